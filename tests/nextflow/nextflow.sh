#!/usr/bin/env bash
# Run Nextflow from its Maven Central jars, with no capsule launcher and no network.
#
#   tests/nextflow/nextflow.sh run nextflow/main.nf -profile test ...
#   tests/nextflow/nextflow.sh -version
#   tests/nextflow/nextflow.sh --fetch-only      # resolve the jars, then exit
#
# Why: Nextflow is on neither PyPI nor Debian, and the official `nextflow` script downloads its
# capsule from GitHub at first run. Its jars are on Maven Central, so Maven fetches them once into
#   ${FACTORNET_CACHE:-$HOME/.cache/factornet}/nextflow-<version>/lib
# and every later call starts `java -cp 'lib/*' nextflow.cli.Launcher` directly.
#
# Environment:
#   FACTORNET_CACHE        cache root (default ~/.cache/factornet)
#   FACTORNET_NXF_VERSION  Nextflow version (default: the one pinned in pom.xml beside this file)
#   NXF_HOME               default <cache>/nextflow-<version>/home (plugins/, secrets/, assets/)
#   NXF_OPTS               JVM options (default: -XX:TieredStopAtLevel=1, C1 only: halves start-up of short
#                          runs; the Nextflow driver is mostly idle, so peak JIT speed does not matter)
#   JAVA_CMD               java to use (default: java on PATH); Java 17+ required
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
version="${FACTORNET_NXF_VERSION:-$(sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' "$pom")}"
cache="${FACTORNET_CACHE:-$HOME/.cache/factornet}"
root="$cache/nextflow-$version"
lib="$root/lib"
java_cmd="${JAVA_CMD:-java}"

die() { echo "nextflow.sh: error: $*" >&2; exit 2; }

command -v "$java_cmd" >/dev/null 2>&1 || die "java not found; install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless)"

fetch() {
    command -v mvn >/dev/null 2>&1 || die "Nextflow $version is not cached in $lib and mvn is not installed to fetch it (apt-get install maven)"
    mkdir -p "$root"
    # One fetch at a time (parallel pytest workers); a fetch writes to a temp folder and renames it,
    # so an interrupted fetch never leaves a half-filled lib/.
    exec 9>"$root/.fetch.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if [[ -f "$lib/.complete" ]]; then exec 9>&-; return 0; fi
    local tmp="$root/lib.tmp.$$"
    rm -rf "$tmp"
    echo "nextflow.sh: fetching Nextflow $version from Maven Central into $lib" >&2
    mvn -q -B -Dstyle.color=never -f "$pom" -Dnextflow.version="$version" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >&2 \
        || { rm -rf "$tmp"; die "Maven could not fetch io.nextflow:nextflow:$version (see the messages above)"; }
    ls "$tmp"/nextflow-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no nextflow jar after fetching $version"; }
    touch "$tmp/.complete"
    rm -rf "$lib"
    mv "$tmp" "$lib"
    exec 9>&-  # release the lock before exec'ing java, which would otherwise hold it for the whole run
}

[[ -f "$lib/.complete" ]] || fetch
if [[ "${1:-}" == "--fetch-only" ]]; then echo "$lib"; exit 0; fi

# No network: no update check, no plugin download, no remote config. The local executor and
# the docker/singularity/apptainer/conda/slurm support are part of the core jar; plugins
# (nf-amazon, nf-tower, nf-wave, ...) are only loaded when a config asks for them.
export NXF_HOME="${NXF_HOME:-$root/home}"
export NXF_OFFLINE="${NXF_OFFLINE:-true}"
export NXF_DISABLE_CHECK_LATEST="${NXF_DISABLE_CHECK_LATEST:-true}"
export NXF_PLUGINS_DIR="${NXF_PLUGINS_DIR:-$NXF_HOME/plugins}"
export NXF_ANSI_LOG="${NXF_ANSI_LOG:-false}"
export NXF_CLI="$0 $*"
mkdir -p "$NXF_PLUGINS_DIR"

# The capsule launcher opens these JDK packages (Kryo/leveldb cache for -resume, Groovy reflection).
jvm_opens=(
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.net=ALL-UNNAMED
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens=java.base/sun.nio.fs=ALL-UNNAMED
    --add-opens=java.base/sun.net.www.protocol.http=ALL-UNNAMED
    --add-opens=java.base/sun.net.www.protocol.https=ALL-UNNAMED
    --add-opens=java.base/sun.net.www.protocol.ftp=ALL-UNNAMED
    --add-opens=java.base/sun.net.www.protocol.file=ALL-UNNAMED
    --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens=java.base/jdk.internal.vm=ALL-UNNAMED
    --add-opens=java.base/java.util.regex=ALL-UNNAMED
)

# shellcheck disable=SC2086  # NXF_OPTS is a list of JVM flags
exec "$java_cmd" ${NXF_OPTS--XX:+TieredCompilation -XX:TieredStopAtLevel=1} "${jvm_opens[@]}" -Dfile.encoding=UTF-8 \
    -cp "$lib/*" nextflow.cli.Launcher "$@"
