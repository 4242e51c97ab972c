"""`cnncalc` command lines run as black boxes under a time and a memory limit, for the hostile
corpora: alone (one process per command, the real entry point) or in batches (tests/cli_batch.py,
one process per CPU, the interpreter started once)."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

BATCH = Path(__file__).with_name("cli_batch.py")
CPUS = os.cpu_count() or 2


class Job(NamedTuple):
    key: str
    args: list[str]
    cwd: str
    timeout: int  # seconds


class Outcome(NamedTuple):
    code: int | str | None  # the exit code; None: it ran past its time limit; "raised ...": an exception escaped
    stdout: str
    stderr: str


def run_alone(job: Job, env: dict[str, str], memory: int) -> Outcome:
    def limit() -> None:  # in the child, before cnncalc starts
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        done = subprocess.run([sys.executable, "-m", "cnncalc", *job.args], cwd=job.cwd, capture_output=True,
                              timeout=job.timeout, preexec_fn=limit, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Outcome(None, "", "")
    return Outcome(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def run_all_alone(jobs: list[Job], env: dict[str, str], memory: int) -> dict[str, Outcome]:
    with ThreadPoolExecutor(max_workers=CPUS) as pool:
        return dict(zip([job.key for job in jobs], pool.map(lambda job: run_alone(job, env, memory), jobs)))


def run_batch(jobs: list[Job], env: dict[str, str], memory: int, script: Path = BATCH) -> dict[str, Outcome]:
    """The jobs through `script`, one process per CPU; a job a process did not report (it crashed,
    or the process ran out of time) runs again alone."""
    chunks = [jobs[i::CPUS] for i in range(CPUS) if jobs[i::CPUS]]
    procs = [subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={**env, "CNNCALC_TEST_MEMORY": str(memory)})
             for _ in chunks]
    outcomes: dict[str, Outcome] = {}
    for proc, chunk in zip(procs, chunks):
        try:
            out, _ = proc.communicate(json.dumps([job._asdict() for job in chunk]),
                                      timeout=sum(job.timeout for job in chunk))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            row = json.loads(line)
            outcomes[row["key"]] = Outcome(row["code"], row["stdout"], row["stderr"])
    missing = [job for job in jobs if job.key not in outcomes]
    return outcomes | run_all_alone(missing, env, memory)
