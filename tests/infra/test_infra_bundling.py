"""The code asset ships byte-code the deployed runtime loads as is: complete, unchecked-hash, reproducible."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

from ses_to_connect_cdk import bundling
from ses_to_connect_cdk.bundling import VENDORED_PACKAGES, code_bundling
from ses_to_connect_cdk.function import RUNTIME
from tests.infra.infra_support import Synth

# The runtime's tag, written out: the staged asset must carry byte-code for python3.13 itself.
CACHE_TAG = "cpython-313"
UNCHECKED_HASH = 0b01  # PEP 552 flags: bit 0 hash-based, bit 1 check_source (not set)


def staged_asset(s: Synth) -> Path:
    resource = s.template["Resources"][s.logical_id(s.construct.bridge.function)]
    stage = cdk.Stage.of(s.stack)
    assert stage is not None
    return Path(stage.outdir) / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"


def byte_code(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.pyc"))}


def bundle(into: Path, runtime: tuple[int, int] | None = None) -> Path:
    """Bundle as the synth does, for the deployed runtime or the (major, minor) given."""
    into.mkdir()
    version = bundling.python_version(RUNTIME) if runtime is None else runtime
    assert bundling._CopyBundling(version).try_bundle(str(into), code_bundling(RUNTIME))
    return into


def test_runtime_tag_is_the_deployed_runtime() -> None:
    assert RUNTIME.name == "python3.13"
    assert bundling.python_version(RUNTIME) == (3, 13)


def test_every_module_of_the_asset_has_its_byte_code(default: Synth) -> None:
    staged = staged_asset(default)
    sources = sorted(staged.rglob("*.py"))
    expected = {
        str((path.parent / "__pycache__" / f"{path.stem}.{CACHE_TAG}.pyc").relative_to(staged))
        for path in sources
    }
    assert set(byte_code(staged)) == expected
    packages = {path.relative_to(staged).parts[0] for path in sources}
    assert packages == {"ses_to_connect", *VENDORED_PACKAGES}
    for name in ("ses_to_connect/handler.py", "ses_to_connect/adapters/__init__.py", "tnefparse/tnef.py"):
        assert name in {str(path.relative_to(staged)) for path in sources}
    assert (staged / "charset_normalizer" / "__pycache__" / f"md.{CACHE_TAG}.pyc").is_file()


def test_of_oletools_only_the_code_page_table_rtfde_reads_is_shipped(default: Synth) -> None:
    """oletools' dependencies are not installed (requirements/lambda-no-deps.txt): the asset holds
    nothing that would import them, and RTFDE, run from the asset alone, reads an Outlook RTF body."""
    staged = staged_asset(default)
    shipped = {
        path.relative_to(staged / "oletools").as_posix()
        for path in (staged / "oletools").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped == {"__init__.py", "LICENSE.txt", "common/__init__.py", "common/codepages.py"}
    assert not (staged / "lark" / "tools").exists() and not (staged / "lark" / "__pyinstaller").exists()
    rtf = rb"{\rtf1\ansi\ansicpg1251\fromtext \deff0{\fonttbl{\f0\fswiss\fcharset204 Arial;}}"
    rtf += rb"\'d8\'ee\'f1\'f2\'e8\'e9}"  # Cyrillic in windows-1251: oletools' table names the codec
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from RTFDE import DeEncapsulator; "
        "rtf = DeEncapsulator(sys.stdin.buffer.read()); rtf.deencapsulate(); "
        "print(rtf.content_type, rtf.text.decode(), sorted({m.__file__.startswith(sys.argv[1]) "
        "for name, m in sys.modules.items() if name.split('.')[0] in ('RTFDE', 'lark', 'oletools')}))"
    )
    done = subprocess.run(  # -I -S: the standard library and the asset, nothing installed
        [sys.executable, "-I", "-S", "-c", script, str(staged)], input=rtf, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["text", "\u0428\u043e\u0441\u0442\u0438\u0439", "[True]"]


def test_byte_code_is_unchecked_hash_for_the_shipped_source(default: Synth) -> None:
    staged = staged_asset(default)
    pycs = sorted(staged.rglob("*.pyc"))
    assert pycs
    for pyc in pycs:
        data = pyc.read_bytes()
        source = pyc.parent.parent / f"{pyc.name.split('.')[0]}.py"
        assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, pyc
        # Never checked by Lambda, but right: the hash of the source shipped next to it.
        assert data[8:16] == importlib.util.source_hash(source.read_bytes()), pyc


def test_handler_loads_from_the_byte_code_not_the_sources(default: Synth, tmp_path: Path) -> None:
    """Sources replaced by a raise: any module compiled from source instead of loaded from its
    .pyc fails the import. Read-only like /var/task, and byte-code writing left on."""
    asset = tmp_path / "task"
    shutil.copytree(staged_asset(default), asset)
    modules = []
    for source in sorted(asset.rglob("*.py")):
        parts = source.relative_to(asset).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__":
            modules.append(".".join(parts))
        stamp = source.stat()
        source.write_text(f"raise ImportError('compiled from source: {source.name}')\n", encoding="utf-8")
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    before = byte_code(asset)
    for path in [asset, *asset.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    script = (
        "import importlib, sys, json; sys.path.insert(0, sys.argv[1])\n"
        "from ses_to_connect import handler\n"
        "loaded = [importlib.import_module(name) for name in sys.argv[2:]]\n"
        "print(json.dumps([sys.dont_write_bytecode, handler.__file__, handler.__cached__,"
        " sorted(m.__name__ for m in loaded if m.__cached__ and m.__file__.startswith(sys.argv[1]))]))\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(asset), *modules],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=False,
        )
    finally:
        for path in [asset, *asset.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert done.returncode == 0, done.stderr[-2000:]
    dont_write, handler_file, handler_cached, loaded = json.loads(done.stdout)
    assert dont_write is False
    assert handler_file == str(asset / "ses_to_connect" / "handler.py")
    assert handler_cached == str(asset / "ses_to_connect" / "__pycache__" / f"handler.{CACHE_TAG}.pyc")
    assert loaded == sorted(modules)
    assert {name.split(".")[0] for name in loaded} == {"ses_to_connect", *VENDORED_PACKAGES}
    assert byte_code(asset) == before


def test_two_bundlings_give_the_same_byte_code(
    default: Synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "1")
    first = byte_code(bundle(tmp_path / "a"))
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    second = byte_code(bundle(tmp_path / "another-staging-folder"))
    assert first
    assert first == second
    assert first == byte_code(staged_asset(default))


def test_no_byte_code_under_another_minor_version(tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning, match="ships without byte-code"):
        staged = bundle(tmp_path / "asset", runtime=(3, sys.version_info.minor + 1))
    assert (staged / "ses_to_connect" / "handler.py").is_file()
    assert byte_code(staged) == {}
