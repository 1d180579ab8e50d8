#!/usr/bin/env bash
# Install a real Galaxy (for the wrappers' tests) and planemo (for `planemo lint`) into
# their own virtual environments in a cache folder, separate from the project's venv.
#
#   tests/galaxy/install_galaxy.sh            # installs or reuses ${FACTORNET_CACHE:-~/.cache/factornet}/{galaxy,planemo}-venv
#
# Env: FACTORNET_CACHE (cache root), GALAXY_VERSION (default 26.1.1; 26.1.2 pins a certifi the
# registry lacks), PLANEMO_VERSION (default: latest), PYTHON (interpreter for the venvs, default python3).
# Re-running is cheap: a venv whose marker file records the same version is kept as it is.
set -euo pipefail

CACHE="${FACTORNET_CACHE:-$HOME/.cache/factornet}"
GALAXY_VERSION="${GALAXY_VERSION:-26.1.1}"
PLANEMO_VERSION="${PLANEMO_VERSION:-}"
PYTHON="${PYTHON:-python3}"
GALAXY_VENV="$CACHE/galaxy-venv"
PLANEMO_VENV="$CACHE/planemo-venv"
mkdir -p "$CACHE"

install_venv() {  # $1 venv dir, $2 marker text, $3.. pip requirements
    local venv="$1" marker="$2"; shift 2
    if [[ -f "$venv/.factornet-installed" && "$(cat "$venv/.factornet-installed")" == "$marker" ]]; then
        echo "reusing $venv ($marker)"
        return
    fi
    local t0=$SECONDS
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip wheel
    "$venv/bin/pip" install --quiet "$@"
    echo "$marker" > "$venv/.factornet-installed"
    echo "installed $marker into $venv in $((SECONDS - t0)) s"
}

# galaxy-tool-test comes with galaxy-tool-util, a dependency of the galaxy meta-package.
install_venv "$GALAXY_VENV" "galaxy==$GALAXY_VERSION" "galaxy==$GALAXY_VERSION"
test -x "$GALAXY_VENV/bin/galaxy-web" || { echo "galaxy-web missing in $GALAXY_VENV" >&2; exit 1; }
test -x "$GALAXY_VENV/bin/galaxy-tool-test" || { echo "galaxy-tool-test missing in $GALAXY_VENV" >&2; exit 1; }

install_venv "$PLANEMO_VENV" "planemo${PLANEMO_VERSION:+==$PLANEMO_VERSION}" "planemo${PLANEMO_VERSION:+==$PLANEMO_VERSION}"
"$PLANEMO_VENV/bin/planemo" --version
