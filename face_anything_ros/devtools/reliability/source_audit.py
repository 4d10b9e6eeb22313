"""Input-hardening audit: loaders that can execute code from a file, found in Python source by AST.

Bags, configs, npz files and weights are untrusted input. Flagged: pickle/marshal/dill/joblib
loads, ``torch.load`` without ``weights_only=True``, YAML loads other than safe ones,
``np.load(allow_pickle=True)``, ``eval``/``exec`` and ``shell=True``. (``np.load`` without
``allow_pickle`` is safe: NumPy's default has been False since 1.16.3.) The test suite runs
this over the package so a regression fails CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

PICKLE_CALLS = {
    (module, name)
    for module in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve")
    for name in ("load", "loads", "Unpickler", "open")
}
YAML_UNSAFE = {"unsafe_load", "full_load", "unsafe_load_all", "full_load_all", "load_all"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _dotted(node: ast.expr) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def unsafe_calls(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: reason`` for every call that can run code from untrusted data."""
    findings = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        target = _dotted(node.func)
        reason = None
        if isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
            reason = f"{node.func.id}()"
        elif target in PICKLE_CALLS:
            reason = f"{target[0]}.{target[1]}() (unpickles arbitrary objects)"
        elif target == ("torch", "load") and not _is_true(_keyword(node, "weights_only")):
            reason = "torch.load() without weights_only=True"
        elif target and target[0] == "yaml" and target[1] in YAML_UNSAFE:
            reason = f"yaml.{target[1]}() (use yaml.safe_load)"
        elif target == ("yaml", "load"):
            loader = _keyword(node, "Loader")
            safe = isinstance(loader, ast.Attribute) and loader.attr in ("SafeLoader", "CSafeLoader")
            reason = None if safe else "yaml.load() without SafeLoader (use yaml.safe_load)"
        elif target in (("np", "load"), ("numpy", "load")) and _is_true(_keyword(node, "allow_pickle")):
            reason = "np.load(allow_pickle=True)"
        elif _is_true(_keyword(node, "shell")):
            reason = "subprocess with shell=True"
        if reason:
            findings.append(f"{filename}:{node.lineno}: {reason}")
    return findings


# Reviewed uses that never see input data: (file, reason) -> why it is safe. Keyed by file and
# kind of call, not line, so edits elsewhere in the file do not hide a new finding of another kind.
REVIEWED: dict[tuple[str, str], str] = {
    ("face_anything_ros/devtools/publish_bench.py", "exec()"): (
        "runs this repository's own conversions.py from its git history (publish_bench "
        "--compare-with REV, a developer benchmark); never a bag, config or weights file"
    ),
}


def scan_tree(root: Path, reviewed: dict[tuple[str, str], str] = REVIEWED) -> list[str]:
    """Findings under ``root`` (paths relative to its parent), minus the reviewed ones."""
    findings = []
    for path in sorted(root.rglob("*.py")):
        relative = str(path.relative_to(root.parent))
        for finding in unsafe_calls(path.read_text(encoding="utf-8"), relative):
            reason = finding.split(": ", 1)[1]
            if (relative, reason) not in reviewed:
                findings.append(finding)
    return findings
