#!/usr/bin/env python3
"""Runs the README's walk-through as a new user would paste it, and checks what it claims.

    python3 tests/readme/check.py [--readme README.md] [--keep] [--list]

Every ```sh block of the README is run, in order, in ONE bash process started in a fresh
temporary directory, against a fresh `photon serve` (the README's own `serve &` line) with a
fresh data directory. Nothing is created by hand: what the blocks use, they must create. Run by
.ci/run after `cargo build --bin photon`; Python 3 standard library only.

What is rewritten before running (so no release build and no network is needed):

* `cargo run --release --` and `cargo run -q --release --` become the debug binary
  (`$PHOTON_BIN`, else `$CARGO_TARGET_DIR/debug/photon`, CARGO_TARGET_DIR defaulting to
  ~/.cache/photon-target).
* `127.0.0.1:7400` becomes a free port (in commands and expected outputs), and a `serve` without `--listen` gets
  `--listen 127.0.0.1:PORT`, so the check never collides with a Photon already running.
* A line starting with `pip install` is skipped: `aws` is the AWS CLI of the venv
  (`$PHOTON_VENV`, else ~/.cache/photon-venv), put first on PATH.

The shell is bash with `set -o pipefail`, HOME set to the temporary directory (so nothing of the
user's ~/.aws is read) and the AWS_* variables unset. Each command (a line, or several joined by
`\\` or by an open construct, as bash parses them) must exit 0, unless its expected output is an
error (below). The run stops at the first command that fails.

Conventions in the README:

* `<!-- readme-check: skip -->` on the line(s) right before a ```sh block: the block is not run
  (e.g. the foreground `serve` and `cargo test` of "The two commands").
* Expected output: `# => TEXT`, either at the end of a command's (last) line or on its own
  comment line right after the command. The expectation continues over the comment lines that
  follow it and start with `#` and at least two spaces (`#    more text`). The command's
  output (stdout and stderr together) must contain TEXT, where:
    - whitespace does not matter (JSON may be shown on fewer lines than the CLI prints it);
    - `…` stands for any text (an id, a timestamp, a part left out);
    - TEXT does not start or end inside a word (`0` does not match `10`, `dev-builder` does
      not match `dev-builder-2`);
    - `$NAME` (upper case) is the value of the shell variable NAME at that point, e.g. the
      default account's `$OWNER`;
    - `A, then B` means the command may show A or B (a transition the reader may catch
      either side of; the README waits for B itself before going on);
    - TEXT starting with an error code (a word ending in `Exception`, or `Error:` for Photon's
      own commands) means the command is expected to FAIL: it must exit non-zero and its output
      contain the code. The AWS CLI's `An error occurred (Code) when calling the Op operation:
      message` is read as `Code: message`, so the README can show `Code: message`.
* Any other comment is prose and is not checked.

Bounded in time: each command has --command-timeout seconds (default 120) and the whole run
--timeout seconds (default 600). At the end (pass, fail or interrupt) the shell and everything it
started, the server included, are stopped, and the temporary directory is removed (unless --keep).
"""

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP_MARK = "<!-- readme-check: skip -->"
DONE = "__readme_check_done__"
WORD = "A-Za-z0-9_-"


class Command:
    def __init__(self, block, line, text, expected):
        self.block = block  # index of the ```sh block, from 1
        self.line = line  # README line of its first line
        self.text = text  # as the README has it
        self.expected = expected  # None, or the expected text (one string)

    def title(self):
        first = self.text.strip().splitlines()[0]
        return first if len(first) <= 100 else first[:97] + "..."


def sh_blocks(readme):
    """(block number, first line number, lines) of every ```sh block not marked to skip."""
    lines = readme.splitlines()
    blocks, i, n, skip = [], 0, 0, False
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == SKIP_MARK:
            skip = True
        elif stripped.startswith("```"):
            lang = stripped[3:].strip()
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                i += 1
            if lang == "sh":
                n += 1
                if not skip:
                    blocks.append((n, start + 1, lines[start:i]))
            skip = False
        elif stripped:
            skip = False
        i += 1
    return blocks


def complete(text):
    """Whether bash parses `text` as whole commands (no open quote, loop, function or `\\`)."""
    if text.rstrip().endswith("\\"):
        return False
    r = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    return r.returncode == 0


TRAILING = re.compile(r"(?:^|\s)#\s*=>\s?(.*)$")
OWN_LINE = re.compile(r"^\s*#\s*=>\s?(.*)$")
CONTINUATION = re.compile(r"^\s*#  +(\S.*)$")


def commands(blocks):
    """Splits blocks into commands and attaches each `# =>` expectation to its command."""
    out = []
    for number, first, lines in blocks:
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            if line.lstrip().startswith("#"):
                if OWN_LINE.match(line):
                    raise SystemExit(
                        f"README line {first + i}: '# =>' follows no command; put it right "
                        "after the command whose output it shows"
                    )
                i += 1  # prose
                continue
            start, text = i, line
            while not complete(text):
                i += 1
                if i >= len(lines):
                    raise SystemExit(
                        f"README line {first + start}: the command never ends (an open quote, "
                        f"loop or trailing backslash?):\n{text}"
                    )
                text += "\n" + lines[i]
            i += 1
            expected = []
            last = text.splitlines()[-1]
            m = TRAILING.search(last)
            if m:
                expected.append(m.group(1))
            elif i < len(lines) and OWN_LINE.match(lines[i]):
                expected.append(OWN_LINE.match(lines[i]).group(1))
                i += 1
            if expected:
                while i < len(lines) and CONTINUATION.match(lines[i]):
                    expected.append(CONTINUATION.match(lines[i]).group(1))
                    i += 1
            out.append(
                Command(number, first + start, text, " ".join(expected) if expected else None)
            )
    return out


def rewrite(text, photon, port):
    text = re.sub(r"cargo run (?:-q )?--release --(?= )", lambda _: f"'{photon}'", text)
    text = text.replace("127.0.0.1:7400", f"127.0.0.1:{port}")
    text = re.sub(
        r"((?:\bphoton|'[^'\n]*/photon') serve)\b(?![^\n]*--listen)",
        lambda m: f"{m.group(1)} --listen 127.0.0.1:{port}",
        text,
    )
    text = re.sub(r"(?m)^(\s*)pip install .*$", r"\1: skipped by the check, which uses the AWS CLI of its venv", text)
    return text


def pattern(expected):
    """A regex for one alternative of an expectation (see the module doc)."""
    text = expected.strip()
    parts = []
    for c in text:
        if c.isspace():
            continue
        if c == "…":
            parts.append(r".*?")
        else:
            parts.append(re.escape(c) + r"\s*")
    body = "".join(parts)
    if text and re.match(f"[{WORD}]", text[0]):
        body = f"(?<![{WORD}])" + body
    if text and re.match(f"[{WORD}]", text[-1]):
        body = body + f"(?![{WORD}])"
    return re.compile(body, re.S)


AWS_ERROR = re.compile(
    r"An error occurred \(([A-Za-z]+)\) when calling the [A-Za-z]+ operation"
    r"(?: \(reached max retries: \d+\))?: "
)


def normalise(output):
    return AWS_ERROR.sub(r"\1: ", re.sub(r"\x1b\[[0-9;]*m", "", output))


def expects_failure(alternative):
    first = alternative.strip().split(" ", 1)[0]
    return bool(re.match(r"^[A-Za-z]+Exception:?$", first)) or first == "Error:"


VARIABLE = re.compile(r"\$([A-Z_][A-Z0-9_]*)")


def check(cmd, rc, output, value):
    """None when the command did what the README says, else why not. `value(NAME)` is the
    shell variable NAME."""
    if cmd.expected is None:
        return None if rc == 0 else f"exited {rc}"
    expected = VARIABLE.sub(lambda m: value(m.group(1)), cmd.expected)
    alternatives = [a for a in expected.split(", then ") if a.strip()]
    fails = [expects_failure(a) for a in alternatives]
    if any(fails) and rc == 0:
        return "succeeded, but the README shows an error"
    if not any(fails) and rc != 0:
        return f"exited {rc}"
    seen = normalise(output)
    if any(pattern(a).search(seen) for a in alternatives):
        return None
    return "its output does not show what the README says"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shell:
    """One bash process fed command by command; each command's output goes to its own file."""

    def __init__(self, cwd, env):
        self.cwd = cwd
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines = queue.Queue()
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._send("set -o pipefail\n")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, n, text, timeout):
        """(exit code, output), or (None, output so far) when it ran out of time."""
        out = os.path.join(self.cwd, f".readme-check/out.{n}")
        self._send(f"{{\n{text}\n}} >{out} 2>&1 </dev/null\nprintf '\\n{DONE} %s\\n' \"$?\"\n")
        deadline = time.monotonic() + timeout
        stray = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, read(out) + "".join(stray)
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                return -1, read(out) + "".join(stray) + "\n(the shell exited)"
            if line.startswith(DONE):
                return int(line.split()[1]), read(out) + "".join(stray)
            if line.strip():
                stray.append(line)

    def value(self, name):
        """The shell variable `name` (empty when unset)."""
        self.n += 1
        rc, out = self.run(f"v{self.n}", f'printf %s "${{{name}-}}"', 10)
        return out if rc == 0 else ""

    def stop(self):
        """Stops the shell and everything it started (its process group), the server included."""
        try:
            pgid = os.getpgid(self.proc.pid)
        except ProcessLookupError:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            end = time.monotonic() + wait
            while time.monotonic() < end:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    return
                self.proc.poll()
                time.sleep(0.1)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail(text, n=40):
    lines = text.rstrip("\n").splitlines()
    cut = lines[-n:]
    more = f"    … ({len(lines) - n} lines before)\n" if len(lines) > n else ""
    return more + "".join(f"    | {line}\n" for line in cut)


def main():
    ap = argparse.ArgumentParser(description="Run the README's walk-through and check it.")
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    ap.add_argument("--command-timeout", type=float, default=120, help="seconds per command")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--list", action="store_true", help="only list the commands and expectations")
    args = ap.parse_args()
    if args.list:
        with open(args.readme, encoding="utf-8") as f:
            for cmd in commands(sh_blocks(f.read())):
                print(f"block {cmd.block}, line {cmd.line}: {cmd.text}")
                if cmd.expected is not None:
                    print(f"    => {cmd.expected}")
        return 0

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/photon-target")
    photon = os.environ.get("PHOTON_BIN") or os.path.join(target, "debug", "photon")
    venv = os.environ.get("PHOTON_VENV") or os.path.expanduser("~/.cache/photon-venv")
    if not os.access(photon, os.X_OK):
        sys.exit(f"no photon binary at {photon}: run `cargo build --bin photon` first")
    if not os.access(os.path.join(venv, "bin", "aws"), os.X_OK):
        sys.exit(f"no AWS CLI in {venv}: python3 -m venv {venv} && {venv}/bin/pip install awscli")

    with open(args.readme, encoding="utf-8") as f:
        cmds = commands(sh_blocks(f.read()))
    port = free_port()
    work = tempfile.mkdtemp(prefix="photon-readme-")
    os.makedirs(os.path.join(work, ".readme-check"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=work,
        PATH=os.path.join(venv, "bin") + os.pathsep + env.get("PATH", ""),
        NO_COLOR="1",
    )
    env.pop("PHOTON_DATABASE_URL", None)
    env.pop("CDPATH", None)

    # SIGTERM (e.g. CI giving up) cleans up like an interrupt.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    shell = Shell(work, env)
    started = time.monotonic()
    checked, server_out, failure = 0, None, None
    try:
        for n, cmd in enumerate(cmds, 1):
            left = args.timeout - (time.monotonic() - started)
            if left <= 0:
                failure = (cmd, None, "", f"the whole run took more than {args.timeout:.0f} s")
                break
            text = rewrite(cmd.text, photon, port)
            if cmd.expected is not None:
                cmd.expected = cmd.expected.replace("127.0.0.1:7400", f"127.0.0.1:{port}")
            if re.search(r"\bserve\b.*&\s*(#.*)?$", text, re.M):
                server_out = os.path.join(work, f".readme-check/out.{n}")
            t0 = time.monotonic()
            rc, output = shell.run(n, text, min(args.command_timeout, left))
            took = time.monotonic() - t0
            if rc is None:
                why = f"did not finish within {min(args.command_timeout, left):.0f} s"
            else:
                why = check(cmd, rc, output, shell.value)
            mark = "ok  " if why is None else "FAIL"
            note = "  (output checked)" if cmd.expected is not None else ""
            print(f"{mark} {took:5.1f}s  block {cmd.block:2}, line {cmd.line:3}: {cmd.title()}{note}")
            sys.stdout.flush()
            if cmd.expected is not None and why is None:
                checked += 1
            if why is not None:
                failure = (cmd, rc, output, why)
                break
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        failure = failure or (None, None, "", "interrupted")
    finally:
        shell.stop()
        logs = read(server_out) if server_out else ""
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    total = time.monotonic() - started
    if failure is None:
        print(
            f"README walk-through: {len(cmds)} commands passed, {checked} outputs checked, "
            f"in {total:.0f} s"
        )
        return 0
    cmd, rc, output, why = failure
    print("", file=sys.stderr)
    if cmd is not None:
        print(f"README line {cmd.line} (sh block {cmd.block}) {why}:", file=sys.stderr)
        print("".join(f"    $ {line}\n" for line in cmd.text.splitlines()), end="", file=sys.stderr)
        if cmd.expected is not None:
            print(f"  expected (see tests/readme/check.py): {cmd.expected}", file=sys.stderr)
        print(f"  exit code: {rc}; output:", file=sys.stderr)
        print(tail(output) if output.strip() else "    (none)", file=sys.stderr)
    else:
        print(why, file=sys.stderr)
    if logs.strip():
        print("  photon serve's output (last lines):", file=sys.stderr)
        print(tail(logs, 15), file=sys.stderr)
    print(f"README walk-through FAILED after {total:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
