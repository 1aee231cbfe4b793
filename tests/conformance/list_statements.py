#!/usr/bin/python3
"""List the MQTT 5.0 normative statements the conformance tests are named after.

A statement [MQTT-x.y.z-n] is counted when it appears as MQTT_x_y_z_n in the name of a test
method (``def test_MQTT_3_1_0_2_...``) or in a ``subTest("MQTT_...")`` label of a
tests/conformance/test_*.py file. Docstrings and comments do not count.

    list_statements.py                  distinct count, then the sorted list
    list_statements.py --by-file        the statements of each file
    list_statements.py --min 150        exit status 1 if fewer than 150 distinct statements
    list_statements.py --run            also run the tests (EDGEMQ_BIN or build/) and report the
                                        statements whose every test passed
"""

import argparse
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ID = re.compile(r"MQTT_(\d+)_(\d+)_(\d+)_(\d+)")
DEF = re.compile(r"^\s*def\s+(test\w*)\s*\(", re.M)
SUBTEST = re.compile(r"subTest\(\s*(?:msg\s*=\s*)?[rbu]?[\"']([^\"']*)[\"']")


def statement(m):
    return "MQTT-%s.%s.%s-%s" % m.groups()


def sort_key(s):
    return tuple(int(x) for x in re.findall(r"\d+", s))


def test_files():
    return sorted(glob.glob(os.path.join(HERE, "test_*.py")))


def scan(path):
    """{statement: set of test method names} for one file."""
    text = open(path, encoding="utf-8").read()
    found = {}
    # Attribute subTest labels to the enclosing test method.
    defs = [(m.start(), m.group(1)) for m in DEF.finditer(text)]

    def enclosing(pos):
        name = None
        for start, n in defs:
            if start > pos:
                break
            name = n
        return name

    for pos, name in defs:
        for m in ID.finditer(name):
            found.setdefault(statement(m), set()).add(name)
    for m in SUBTEST.finditer(text):
        for i in ID.finditer(m.group(1)):
            found.setdefault(statement(i), set()).add(enclosing(m.start()))
    return found


def collect():
    per_file = {}
    for path in test_files():
        per_file[os.path.basename(path)] = scan(path)
    return per_file


def run_tests(per_file):
    """Runs every test module; returns the set of (module, method) that failed or errored."""
    import unittest
    sys.path.insert(0, HERE)
    failed = set()
    loader = unittest.TestLoader()
    for fname in per_file:
        module = fname[:-3]
        suite = loader.loadTestsFromName(module)
        result = unittest.TextTestRunner(stream=open(os.devnull, "w"), verbosity=0).run(suite)
        for test, _ in result.failures + result.errors + [(t, None) for t in result.unexpectedSuccesses]:
            tid = test.id() if hasattr(test, "id") else str(test)
            # subtests report as "<module.Class.method> (label)"; setUpClass errors as "setUpClass (module.Class)"
            m = re.search(r"(\w+)\.(\w+)\.(test\w*)", tid)
            if m:
                failed.add((module, m.group(3)))
            else:
                failed.add((module, "*"))
        print("ran %-36s %3d tests: %d failures, %d errors (subtests counted one by one)"
              % (module, suite.countTestCases(), len(result.failures), len(result.errors)), file=sys.stderr)
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--by-file", action="store_true")
    ap.add_argument("--min", type=int, default=None, help="fail unless at least this many distinct statements")
    ap.add_argument("--run", action="store_true", help="run the tests and report statements whose tests all pass")
    args = ap.parse_args()

    per_file = collect()
    everything = {}
    for fname, found in per_file.items():
        for st, tests in found.items():
            everything.setdefault(st, set()).update((fname[:-3], t) for t in tests)

    statements = sorted(everything, key=sort_key)
    print("%d distinct MQTT 5.0 normative statements" % len(statements))
    if args.by_file:
        for fname, found in per_file.items():
            print("%s: %d: %s" % (fname, len(found), " ".join(sorted(found, key=sort_key))))
    else:
        for st in statements:
            print(st)

    if args.run:
        failed = run_tests(per_file)
        passing = [st for st in statements
                   if not any((mod, t) in failed or (mod, "*") in failed for mod, t in everything[st])]
        failing = [st for st in statements if st not in passing]
        print("%d statements with every test passing" % len(passing))
        print("%d statements with a failing test: %s" % (len(failing), " ".join(failing)))

    if args.min is not None and len(statements) < args.min:
        print("fewer than %d statements" % args.min, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
