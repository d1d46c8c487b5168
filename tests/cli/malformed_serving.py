"""Malformed-input cases for rnnkit serve and rnnkit bench serve; see :mod:`tests.cli.malformed`.

None of these may start a server: every one is refused while the options and the folder are
checked, before a port is bound or a process started (a case that got further would hang the
test, which is a failure too).
"""

from __future__ import annotations

from typing import List

from .malformed import Case, config_json, json_file, new_file, new_folder, on, weights

SERVE = ["serve", "{lm}"]
BENCH = ["bench", "serve", "{lm}", "--streams", "2", "--seconds", "1"]


def cases() -> List[Case]:
    cases = []
    for verb, argv in (("serve", SERVE), ("bench-serve", BENCH)):
        where = argv.index("{lm}")
        swap = lambda new, argv=argv, where=where: [*argv[:where], new, *argv[where + 1 :]]  # noqa: E731
        cases += [
            Case(f"{verb}-folder-missing", swap("{tmp}/nowhere"), r"nowhere.*(not exist|not found)", cls="folder"),
            Case(f"{verb}-folder-is-file", swap("{bad}"), r"is a file", new_file("afile.txt", "x"), "folder"),
            Case(f"{verb}-folder-empty", swap("{bad}"), r"config\.json", new_folder("empty"), "folder"),
            Case(f"{verb}-folder-forecaster", swap("{fc}"), r"forecaster", cls="folder"),
            # serve streams classifiers, but not this bidirectional one; bench serve needs a language model
            Case(
                f"{verb}-folder-classifier",
                swap("{cls}"),
                r"classifier.*bidirectional" if verb == "serve" else r"classifier",
                cls="folder",
            ),
            Case(f"{verb}-folder-seq2seq", swap("{s2s}"), r"(encoder.decoder|seq2seq)", cls="folder"),
            Case(f"{verb}-weights-truncated", argv, r"model\.safetensors", on("lm", weights("truncated")), "file"),
            Case(f"{verb}-weights-pickle", argv, r"model\.safetensors.*pickle", on("lm", weights("pickle")), "file"),
            Case(f"{verb}-config-not-json", argv, r"config\.json.*JSON", on("lm", config_json("not_json")), "file"),
            Case(f"{verb}-vocab-missing", argv, r"vocab\.json", on("lm", json_file("vocab.json", "missing")), "file"),
        ]
    table = [
        (SERVE, "--port", "-1", r"port.*-1", "number"),
        (SERVE, "--port", "70000", r"port.*70000", "number"),
        (SERVE, "--port", "eighty", r"port", "option"),
        (SERVE, "--host", "not a host", r"host.*not a host", "option"),
        (SERVE, "--host", "", r"host", "option"),
        (SERVE, "--max-sessions", "0", r"max.sessions.*0", "number"),
        (SERVE, "--max-sessions", "-3", r"max.sessions.*-3", "number"),
        (SERVE, "--idle-timeout", "0", r"idle.timeout", "number"),
        (SERVE, "--idle-timeout", "nan", r"idle.timeout", "number"),
        (SERVE, "--idle-timeout", "-1", r"idle.timeout.*-1", "number"),
        (SERVE, "--max-message-bytes", "10", r"max.message.bytes.*10", "number"),
        (SERVE, "--tick-ms", "0", r"tick.ms", "number"),
        (SERVE, "--tick-ms", "5000", r"tick.ms.*5000", "number"),
        (SERVE, "--tick-ms", "inf", r"tick.ms", "number"),
        (SERVE, "--max-batch", "0", r"max.batch", "number"),
        (SERVE, "--threads", "0", r"threads", "number"),
        (SERVE, "--engine", "tensorflow", r"engine.*tensorflow", "option"),
        (BENCH, "--engine", "tpu", r"engine.*tpu", "option"),
        (BENCH, "--streams", "0", r"streams.*0", "number"),
        (BENCH, "--streams", "100000", r"streams.*5000", "resource"),
        (BENCH, "--rate-hz", "0", r"rate.hz", "number"),
        (BENCH, "--rate-hz", "1000", r"rate.hz.*1000", "number"),
        (BENCH, "--rate-hz", "nan", r"rate.hz", "number"),
        (BENCH, "--seconds", "0", r"seconds", "number"),
        (BENCH, "--seconds", "86400", r"seconds.*86400", "resource"),
        (BENCH, "--tick-ms", "-2", r"tick.ms", "number"),
        (BENCH, "--max-batch", "0", r"max.batch", "number"),
    ]
    for base, option, value, names, cls in table:
        verb = "serve" if base is SERVE else "bench-serve"
        cases.append(Case(f"{verb}{option}={value}", [*base, option, value], names, cls=cls))
    url = ["bench", "serve", "--streams", "2", "--seconds", "1", "--url"]
    cases += [
        Case("bench-serve-url-not-ws", [*url, "http://127.0.0.1:8000/stream"], r"url.*ws://", cls="option"),
        Case("bench-serve-url-no-port", [*url, "ws://127.0.0.1/stream"], r"url", cls="option"),
        Case("bench-serve-url-elsewhere", [*url, "ws://10.1.2.3:8000/stream"], r"url.*this machine", cls="option"),
        Case("bench-serve-url-name", [*url, "ws://example.org:80/stream"], r"url.*this machine", cls="option"),
        Case(
            "bench-serve-folder-and-url",
            [*BENCH, "--url", "ws://127.0.0.1:8000/stream"],
            r"model folder.*--url.*one of them",
            cls="conflict",
        ),
        Case("bench-serve-nothing", ["bench", "serve"], r"model folder.*--url", cls="option"),
        Case("bench-serve-json-is-folder", [*BENCH, "--json", "{bad}"], r"folder", new_folder("out"), "folder"),
        Case("bench-serve-json-onto-model", [*BENCH, "--json", "{lm}/config.json"], r"config\.json", cls="folder"),
    ]
    return cases
