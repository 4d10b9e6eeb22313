#!/usr/bin/env bash
# One command from a fresh clone (Python 3.11, no ROS install) to a working environment:
#   bash scripts/setup_env.sh           # set up or update .venv (fast no-op when up to date)
#   bash scripts/setup_env.sh --check   # only check the machine's prerequisites
#   bash scripts/setup_env.sh --force   # redo every step
#
# What it does (the "wheel route"; on a machine with ROS 2 use colcon instead, see README):
#  1. checks Python 3.11 (with venv and its C headers), a C and C++ compiler and cmake;
#  2. creates .venv and installs the pinned requirements.txt (ROS 2 Kilted wheels, torch, ...),
#     requirements-nodeps.txt with --no-deps, and this project editable (pip install -e .);
#  3. generates and builds the messages in msg/ with CMake/rosidl and installs them into the venv,
#     after the upstream message packages in interfaces/ that have no wheel (tf2_msgs, vision_msgs)
#     (libraries into .venv/lib next to the ROS wheels' libraries, Python modules into
#     .venv/ros_overlay/site-packages, which face_anything_ros/__init__.py adds to its path);
#  4. writes .venv/.../face_anything_ros_env.pth, which puts the venv on AMENT_PREFIX_PATH for
#     every Python process of the venv, so nothing has to be sourced by hand;
#  5. verifies `import rclpy` and `from face_anything_ros.msg import FaceTrackArray`.
# Re-runs compare a hash of the inputs (requirements, setup.py, msg/, CMakeLists.txt, ...) with
# stamps in the venv and skip the steps whose inputs did not change.
#
# Environment: FACE_ANYTHING_VENV (default <repo>/.venv), FACE_ANYTHING_PYTHON (default python3.11).
set -euo pipefail

REPO_DIR="$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)"
VENV_DIR="${FACE_ANYTHING_VENV:-$REPO_DIR/.venv}"
PYTHON_CMD="${FACE_ANYTHING_PYTHON:-python3.11}"
REQUIRED_PYTHON="3.11"
OVERLAY_DIR="$VENV_DIR/ros_overlay"
STAMP_DIR="$VENV_DIR/.face_anything_stamps"
LOG_DIR="$VENV_DIR/setup-logs"

log() { echo "[setup_env] $*"; }
fail() {
    echo "[setup_env] ERROR: $*" >&2
    exit 1
}

# --- 1. prerequisites ------------------------------------------------------------------------------
# Uses only shell builtins and the tools it checks, so it also works with a minimal PATH.
check_prerequisites() {
    local missing=()
    if ! command -v "$PYTHON_CMD" >/dev/null 2>&1; then
        missing+=("Python $REQUIRED_PYTHON ('$PYTHON_CMD' not on PATH): apt install python3.11 python3.11-venv python3.11-dev, or set FACE_ANYTHING_PYTHON=/path/to/python3.11")
    else
        local version
        version="$("$PYTHON_CMD" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown)"
        if [[ "$version" != "$REQUIRED_PYTHON" ]]; then
            missing+=("Python $REQUIRED_PYTHON ('$PYTHON_CMD' is Python $version; the ROS 2 Kilted wheels are cp311 only): install python3.11 or set FACE_ANYTHING_PYTHON=/path/to/python3.11")
        else
            if ! "$PYTHON_CMD" -c 'import venv, ensurepip' >/dev/null 2>&1; then
                missing+=("the Python venv module with ensurepip: apt install python3.11-venv")
            fi
            if ! "$PYTHON_CMD" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' >/dev/null 2>&1; then
                missing+=("the Python $REQUIRED_PYTHON C headers (Python.h, needed to build the message bindings): apt install python3.11-dev")
            fi
        fi
    fi
    if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
        missing+=("a C compiler (cc/gcc): apt install build-essential")
    fi
    if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1; then
        missing+=("a C++ compiler (c++/g++): apt install build-essential")
    fi
    if ! command -v cmake >/dev/null 2>&1 && [[ ! -x "$VENV_DIR/bin/cmake" ]]; then
        missing+=("cmake (3.16 or newer): apt install cmake, or pip install cmake into $VENV_DIR")
    fi
    if ((${#missing[@]})); then
        echo "[setup_env] ERROR: missing prerequisites:" >&2
        local item
        for item in "${missing[@]}"; do
            echo "[setup_env]   - $item" >&2
        done
        return 1
    fi
    return 0
}

# Hash of the given files (sorted names + contents), to detect changed inputs.
inputs_hash() {
    (cd "$REPO_DIR" && sha256sum "$@" | sha256sum | cut -d' ' -f1)
}

# Runs a command with its output in $LOG_DIR/<name>.log; on failure shows the log's tail and stops.
run_logged() {
    local name="$1"
    shift
    mkdir -p "$LOG_DIR"
    if ! "$@" >"$LOG_DIR/$name.log" 2>&1; then
        tail -n 25 "$LOG_DIR/$name.log" >&2
        fail "step '$name' failed (command: $*); full log: $LOG_DIR/$name.log"
    fi
}

stamp_matches() { [[ -f "$STAMP_DIR/$1" && "$(cat "$STAMP_DIR/$1")" == "$2" ]]; }
write_stamp() {
    mkdir -p "$STAMP_DIR"
    echo "$2" >"$STAMP_DIR/$1"
}

# --- 2. virtual environment and Python packages ----------------------------------------------------
install_python_packages() {
    if [[ ! -x "$VENV_DIR/bin/python" ]]; then
        log "creating virtual environment $VENV_DIR"
        "$PYTHON_CMD" -m venv "$VENV_DIR"
    fi
    local pip=("$VENV_DIR/bin/python" -m pip --disable-pip-version-check install)
    log "installing pinned requirements (requirements.txt)"
    run_logged pip-requirements "${pip[@]}" -r "$REPO_DIR/requirements.txt"
    log "installing requirements-nodeps.txt without dependencies"
    run_logged pip-nodeps "${pip[@]}" --no-deps -r "$REPO_DIR/requirements-nodeps.txt"
    log "installing face_anything_ros (editable)"
    run_logged pip-editable "${pip[@]}" --no-deps -e "$REPO_DIR"
}

# --- 3. messages -----------------------------------------------------------------------------------
# Message packages the node publishes that have no wheel (interfaces/<pkg>, upstream definitions),
# built and installed into the venv before face_anything_ros, in this order.
VENDORED_MESSAGE_PACKAGES=(tf2_msgs vision_msgs)

# Configures, builds and installs one CMake/rosidl message project ($1: source dir, $2: log name,
# $3: where its Python modules go, relative to the venv).
build_message_project() {
    local source_dir="$1" name="$2" python_dir="$3"
    local build_dir="$OVERLAY_DIR/build/$name"
    local python="$VENV_DIR/bin/python"
    # The venv is the ROS prefix: CMake finds the wheels' packages there, and rosidl finds its
    # typesupports through AMENT_PREFIX_PATH.
    CMAKE_PREFIX_PATH="$VENV_DIR" AMENT_PREFIX_PATH="$VENV_DIR" \
        run_logged "cmake-configure-$name" cmake -S "$source_dir" -B "$build_dir" \
        -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_TESTING=OFF \
        -DFACE_ANYTHING_INSTALL_PYTHON_PACKAGE=OFF \
        -DPython3_EXECUTABLE="$python" \
        -DCMAKE_INSTALL_PREFIX="$VENV_DIR" \
        -DPYTHON_INSTALL_DIR="$python_dir" \
        -DCMAKE_INSTALL_RPATH="$VENV_DIR/lib"
    run_logged "cmake-build-$name" cmake --build "$build_dir" --parallel "$(nproc 2>/dev/null || echo 2)"
    run_logged "cmake-install-$name" cmake --install "$build_dir"
}

build_messages() {
    rm -rf "$OVERLAY_DIR/build"
    log "generating and building the messages (interfaces/*, msg/*.msg) with rosidl + cmake"
    export PATH="$VENV_DIR/bin:$PATH" # the venv's tools (and a pip-installed cmake, if any)
    rm -rf "$OVERLAY_DIR/site-packages" # drop modules of removed messages; install refills it at once
    # The upstream packages go where the wheels' message packages are (importable as usual); ours goes
    # to the overlay that face_anything_ros/__init__.py adds to its own package path.
    local package site_packages
    site_packages="$("$VENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib", vars={"base": ""}).lstrip("/"))')"
    for package in "${VENDORED_MESSAGE_PACKAGES[@]}"; do
        build_message_project "$REPO_DIR/interfaces/$package" "$package" "$site_packages"
    done
    build_message_project "$REPO_DIR" face_anything_ros "ros_overlay/site-packages"
}

# --- 4. environment without sourcing ---------------------------------------------------------------
# A .pth file runs at the start of every Python process of the venv (before the ROS wheels'
# bootstrapper, which re-executes Python with LD_LIBRARY_PATH=<venv>/lib and a copy of the
# environment). It appends the venv to AMENT_PREFIX_PATH so ament_index lookups
# (e.g. get_package_share_directory("face_anything_ros")) find this package.
write_env_pth() {
    local site_packages
    site_packages="$("$VENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    cat >"$site_packages/face_anything_ros_env.pth" <<'EOF'
import os, sys; _p = os.environ.get("AMENT_PREFIX_PATH", ""); os.environ["AMENT_PREFIX_PATH"] = _p if sys.prefix in _p.split(os.pathsep) else os.pathsep.join(x for x in (_p, sys.prefix) if x)
EOF
}

# --- 5. verification -------------------------------------------------------------------------------
verify_environment() {
    (cd / && env -u AMENT_PREFIX_PATH "$VENV_DIR/bin/python" -c \
        'import rclpy; from face_anything_ros.msg import FaceTrackArray, FaceTrack, FaceMeshTopology; from tf2_msgs.msg import TFMessage; from vision_msgs.msg import Detection2DArray' \
        >/dev/null 2>&1)
}

main() {
    local force=0
    case "${1:-}" in
    --check)
        check_prerequisites && log "prerequisites OK"
        return
        ;;
    --force) force=1 ;;
    "") ;;
    *) fail "unknown argument '$1' (use --check or --force)" ;;
    esac

    check_prerequisites || exit 1
    if [[ -n "${ROS_DISTRO:-}" ]]; then
        log "warning: a ROS 2 environment ($ROS_DISTRO) is sourced in this shell; its PYTHONPATH and libraries can shadow the wheels. On a ROS machine use the colcon install (README, route A), or run this from a shell without it."
    fi

    # One setup at a time per venv (CI and developers may start it concurrently).
    mkdir -p "$VENV_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$VENV_DIR/.setup.lock"
        flock 9
    fi

    if [[ -x "$VENV_DIR/bin/python" ]]; then
        local venv_version
        venv_version="$("$VENV_DIR/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo broken)"
        [[ "$venv_version" == "$REQUIRED_PYTHON" ]] ||
            fail "$VENV_DIR holds Python $venv_version, not $REQUIRED_PYTHON: remove it (rm -rf $VENV_DIR) and run this again"
    fi

    local python_hash message_hash
    python_hash="$(cd "$REPO_DIR" && inputs_hash requirements.txt requirements-nodeps.txt setup.py pyproject.toml scripts/setup_env.sh)"
    message_hash="$(cd "$REPO_DIR" && inputs_hash msg/*.msg CMakeLists.txt package.xml cmake/*.cmake interfaces/*/CMakeLists.txt interfaces/*/package.xml interfaces/*/msg/*.msg scripts/setup_env.sh)"

    if ((!force)) && stamp_matches python "$python_hash" && stamp_matches messages "$message_hash" &&
        verify_environment; then
        log "environment up to date: $VENV_DIR"
        return
    fi

    if ((force)) || ! stamp_matches python "$python_hash" || [[ ! -x "$VENV_DIR/bin/python" ]]; then
        install_python_packages
        write_stamp python "$python_hash"
    fi
    mkdir -p "$OVERLAY_DIR"
    write_env_pth
    if ((force)) || ! stamp_matches messages "$message_hash" || ! verify_environment; then
        build_messages
        write_stamp messages "$message_hash"
    fi
    verify_environment || fail "the environment does not import: run
  $VENV_DIR/bin/python -c 'import rclpy; from face_anything_ros.msg import FaceTrackArray'
to see why, or re-run with --force"
    log "ready: $VENV_DIR (messages: face_anything_ros.msg; run tools as $VENV_DIR/bin/...)"
}

main "$@"
