"""Export -> import round trips, vector-only exports, and refitting onto another basis."""

from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pytest

from prefchat.basis import load_basis
from prefchat.errors import PrefchatError
from prefchat.profiles.exchange import export_bytes, export_to_file, import_file
from prefchat.profiles.profile import parse_bytes
from prefchat.profiles.refit import refit
from prefchat.profiles.store import ProfileStore
from prefchat.reward.elicit import fit_lambda

from .conftest import fake_pair_diffs, make_profile


def _bits(xs):
    return [struct.pack("<d", x) for x in xs]


def _no_refit(*_a):  # for imports that must not need features
    raise AssertionError("pair_diffs must not be called when the fingerprint matches")


def test_round_trip_is_bit_exact(tmp_path, basis_dir):
    basis = load_basis(basis_dir)
    prof = make_profile("alice", basis_dir, n_answers=9, seed=3)
    # Awkward floats: -0.0, subnormal, huge, 1/3 must all survive text serialisation unchanged.
    prof = replace(prof, lam=[-0.0, 5e-324, 1.7976931348623157e308, 1 / 3])
    src, dst = ProfileStore(tmp_path / "a"), ProfileStore(tmp_path / "b")
    src.save(prof)
    out = export_to_file(src.load("alice"), tmp_path / "alice.json")
    assert (out.stat().st_mode & 0o777) == 0o600
    res = import_file(dst, out, basis, _no_refit)
    assert res.notes == []
    back = dst.load("alice")
    assert _bits(back.lam) == _bits(prof.lam)
    assert [_bits(r) for r in back.precision] == [_bits(r) for r in prof.precision]
    assert back.answers == prof.answers and len(back.answers) == 9
    assert back == prof
    assert dst.path_for("alice").read_bytes() == src.path_for("alice").read_bytes()


def test_vector_only_drops_answers(basis_dir):
    prof = make_profile("alice", basis_dir, n_answers=5)
    data = export_bytes(prof, vector_only=True)
    assert b"answers" in data and b"Question" not in data
    back = parse_bytes(data)
    assert back.answers == [] and back.lam == prof.lam and back.precision == prof.precision


def test_import_never_overwrites_without_force(tmp_path, basis_dir):
    basis = load_basis(basis_dir)
    store = ProfileStore(tmp_path / "h")
    store.save(make_profile("alice", basis_dir, seed=1))
    before = store.path_for("alice").read_bytes()
    f = export_to_file(make_profile("alice", basis_dir, seed=2), tmp_path / "x.json")
    with pytest.raises(PrefchatError, match="already exists"):
        import_file(store, f, basis, _no_refit)
    assert store.path_for("alice").read_bytes() == before
    import_file(store, f, basis, _no_refit, as_name="alice2")
    import_file(store, f, basis, _no_refit, force=True)
    assert store.path_for("alice").read_bytes() == f.read_bytes()
    with pytest.raises(PrefchatError, match="already exists"):
        export_to_file(make_profile("alice", basis_dir), f)


def test_refit_onto_a_different_basis(tmp_path, basis_dir, other_basis_dir):
    new_basis = load_basis(other_basis_dir)
    prof = make_profile("alice", basis_dir, n_answers=12, seed=4)
    f = export_to_file(prof, tmp_path / "alice.json")
    diffs = fake_pair_diffs(new_basis.dims, salt="other")
    store = ProfileStore(tmp_path / "h")
    res = import_file(store, f, new_basis, diffs)
    got = store.load("alice")
    assert got.basis.fingerprint == new_basis.fingerprint and got.basis.dims == 6
    assert len(got.lam) == 6 and len(got.precision) == 6
    assert got.answers == prof.answers
    assert any("refitted" in n for n in res.notes)
    # Independent computation of what the refit must be.
    a = prof.answers
    v = diffs([x.prompt for x in a], [x.a for x in a], [x.b for x in a])
    y = np.array([{"a": 1.0, "b": 0.0, "tie": 0.5}[x.choice] for x in a])
    mean, prec = new_basis.prior
    lam, H = fit_lambda(v, y, beta=prec, prior_mean=mean)
    np.testing.assert_allclose(got.lam, lam, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.precision, 0.5 * (H + H.T), rtol=1e-12)
    assert not np.allclose(got.lam, mean)  # the answers moved it off the prior


def test_vector_only_from_other_basis_is_refused(tmp_path, basis_dir, other_basis_dir):
    prof = make_profile("alice", basis_dir)
    f = tmp_path / "v.json"
    f.write_bytes(export_bytes(prof, vector_only=True))
    store = ProfileStore(tmp_path / "h")
    with pytest.raises(PrefchatError, match="no answers to refit"):
        import_file(store, f, load_basis(other_basis_dir), _no_refit)
    assert not store.dir.exists() or not any(store.dir.iterdir())


def test_same_fingerprint_wrong_dims_refused(tmp_path, basis_dir, other_basis_dir):
    other = load_basis(other_basis_dir)  # 6 dims
    prof = make_profile("alice", basis_dir)  # 4 dims
    prof = replace(prof, basis=replace(prof.basis, fingerprint=other.fingerprint))
    f = tmp_path / "p.json"
    f.write_bytes(prof.to_bytes())
    with pytest.raises(PrefchatError, match="inconsistent"):
        import_file(ProfileStore(tmp_path / "h"), f, other, _no_refit)


def test_refit_rejects_bad_features(basis_dir, other_basis_dir):
    prof = make_profile("alice", basis_dir)
    b = load_basis(other_basis_dir)
    with pytest.raises(PrefchatError, match="unusable features"):
        refit(prof, b, lambda p, a, c: np.full((len(p), b.dims), np.nan))
    with pytest.raises(PrefchatError, match="no answers"):
        refit(replace(prof, answers=[]), b, fake_pair_diffs(b.dims))
