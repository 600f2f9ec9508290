"""Leases on tasks: compare-and-swap on refs, locally and through a bare remote."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import git
from lanectl import lease
from lanectl.lease import ClaimHeld, Heartbeat, LeaseLost

TASK = "T-AAAAAAAA"


def race(n: int, attempt: object) -> tuple[list[lease.Lease], list[ClaimHeld]]:
    """Run ``attempt()`` in ``n`` threads released at once."""
    barrier = threading.Barrier(n)
    won: list[lease.Lease] = []
    lost: list[ClaimHeld] = []

    def one(index: int) -> None:
        barrier.wait()
        try:
            won.append(attempt(index))  # type: ignore[operator]
        except ClaimHeld as exc:
            lost.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, lost


def test_acquire_renew_release_and_the_claim_history(git_repo: Path) -> None:
    held = lease.acquire(git_repo, TASK, actor="builder-claude", ttl=60)
    sha, claim = lease.read(git_repo, TASK)  # type: ignore[misc]
    assert claim is not None
    assert sha == held.sha
    assert (claim.actor, claim.generation, claim.released) == ("builder-claude", 1, False)
    assert claim.pid > 0
    assert claim.host
    assert claim.expires > time.time() + 50
    with pytest.raises(ClaimHeld, match="claimed by builder-claude"):
        lease.acquire(git_repo, TASK, actor="builder-other", ttl=60)
    before = claim.expires
    held.renew(agent_pid=123)
    assert held.claim.expires >= before
    assert held.claim.agent_pid == 123
    assert held.release("done")
    again = lease.acquire(git_repo, TASK, actor="builder-claude", ttl=60)
    assert again.generation == 2
    assert again.claim.reclaimed_from is None
    history = git(git_repo, "log", "--format=%s", lease.claim_ref(TASK)).splitlines()
    assert len(history) == 4
    assert history[0].startswith(f"claim {TASK} generation 2")
    assert "released" in history[1]
    assert set(lease.list_claims(git_repo)) == {TASK}


def test_threads_never_share_a_claim(git_repo: Path) -> None:
    won, lost = race(8, lambda i: lease.acquire(git_repo, TASK, actor=f"b{i}", ttl=60))
    assert len(won) == 1
    assert len(lost) == 7
    _, claim = lease.read(git_repo, TASK)  # type: ignore[misc]
    assert claim is not None
    assert claim.token == won[0].claim.token


def test_an_expired_claim_is_reclaimed_and_the_stale_holder_refused(git_repo: Path) -> None:
    base = git(git_repo, "rev-parse", "HEAD")
    old = lease.acquire(git_repo, TASK, actor="builder-claude", ttl=0.2)
    old.renew(agent_pid=4321)
    with pytest.raises(ClaimHeld):
        lease.acquire(git_repo, TASK, actor="builder-claude", ttl=60)
    time.sleep(0.3)
    new = lease.acquire(git_repo, TASK, actor="builder-claude", ttl=60)
    assert new.generation == 2
    assert new.claim.reclaimed_from is not None
    assert new.claim.reclaimed_from["generation"] == 1
    assert new.claim.reclaimed_from["agent_pid"] == 4321
    # The reclaimed builder's late work is refused, whatever it tries.
    with pytest.raises(LeaseLost, match="generation 1"):
        old.check()
    with pytest.raises(LeaseLost, match="now generation 2"):
        old.advance_branch(f"lanes/{TASK}", base, None)
    assert git(git_repo, "branch", "--list", f"lanes/{TASK}") == ""
    with pytest.raises(LeaseLost):
        old.renew()
    assert old.release("late") is False
    assert old.lost.is_set()
    new.advance_branch(f"lanes/{TASK}", base, None)
    assert git(git_repo, "rev-parse", f"lanes/{TASK}") == base


def test_advance_branch_refuses_a_branch_that_moved(git_repo: Path) -> None:
    base = git(git_repo, "rev-parse", "HEAD")
    held = lease.acquire(git_repo, TASK, actor="b", ttl=60)
    git(git_repo, "branch", f"lanes/{TASK}", base)  # someone (an agent?) made the branch
    with pytest.raises(lease.LaneError, match="moved during the build"):
        held.advance_branch(f"lanes/{TASK}", base, None)
    held.check()  # the claim itself is still ours


def test_heartbeat_keeps_a_claim_alive_until_stopped(git_repo: Path) -> None:
    held = lease.acquire(git_repo, TASK, actor="b", ttl=0.4)
    beat = Heartbeat(held, 0.1, lambda: {"progress": 1.0}).start()
    time.sleep(0.9)
    with pytest.raises(ClaimHeld):
        lease.acquire(git_repo, TASK, actor="other", ttl=1)
    beat.stop()
    assert held.claim.progress == 1.0
    time.sleep(0.5)
    assert lease.acquire(git_repo, TASK, actor="other", ttl=1).generation == 2


def test_an_unreadable_claim_is_replaced(git_repo: Path) -> None:
    junk = git(git_repo, "commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-m", "junk")
    git(git_repo, "update-ref", lease.claim_ref(TASK), junk)
    assert lease.read(git_repo, TASK) == (junk, None)
    held = lease.acquire(git_repo, TASK, actor="b", ttl=60)
    assert held.generation == 1
    assert held.claim.reclaimed_from == {"unreadable": junk}


# -- a shared remote -------------------------------------------------------------------


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    a = tmp_path / "a"
    git(tmp_path, "clone", "-q", str(remote), str(a))
    git(a, "commit", "-q", "--allow-empty", "-m", "initial")
    git(a, "push", "-q", "origin", "HEAD:main")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))
    return a, b


def test_two_clones_on_a_bare_remote_never_both_win(clones: tuple[Path, Path]) -> None:
    a, b = clones
    won, lost = race(
        6,
        lambda i: lease.acquire((a, b)[i % 2], TASK, actor=f"builder-{i}", ttl=60, remote="origin"),
    )
    assert len(won) == 1
    assert len(lost) == 5
    remote = git(a, "ls-remote", "origin", lease.claim_ref(TASK)).split()[0]
    assert remote == won[0].sha
    # The other clone sees the claim through the remote and cannot take it.
    other = b if won[0].repo == a else a
    with pytest.raises(ClaimHeld):
        lease.acquire(other, TASK, actor="late", ttl=60, remote="origin")


def test_remote_reclaim_refuses_the_stale_push(clones: tuple[Path, Path]) -> None:
    a, b = clones
    base = git(a, "rev-parse", "HEAD")
    old = lease.acquire(a, TASK, actor="builder-a", ttl=0.3, remote="origin")
    time.sleep(0.4)
    new = lease.acquire(b, TASK, actor="builder-b", ttl=60, remote="origin")
    assert new.generation == 2
    assert new.claim.reclaimed_from["generation"] == 1
    with pytest.raises(LeaseLost):
        old.advance_branch(f"lanes/{TASK}", base, None)
    assert git(a, "ls-remote", "origin", f"refs/heads/lanes/{TASK}") == ""
    new.advance_branch(f"lanes/{TASK}", base, None)
    assert git(a, "ls-remote", "origin", f"refs/heads/lanes/{TASK}").split()[0] == base
    assert new.release("done")
    assert lease.acquire(a, TASK, actor="builder-a", ttl=60, remote="origin").generation == 3
