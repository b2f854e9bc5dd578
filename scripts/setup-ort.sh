#!/usr/bin/env bash
# setup-ort.sh puts the ONNX Runtime shared library that hydrocast's models/ort package
# loads at .cache/onnxruntime/<version>/libonnxruntime.so.1 under the repository root.
#
# It tries the official release archive first and falls back to the onnxruntime-node
# package on npm, which ships the same Linux x64 library. The npm package is only packed,
# never installed, so none of its install scripts run. Running it again once the library
# is in place does nothing and prints nothing.
#
# HYDROCAST_ORT_RELEASE_URL replaces the release archive's address, for a mirror.
set -euo pipefail

readonly ORT_VERSION="1.24.1"
readonly RELEASE_URL="${HYDROCAST_ORT_RELEASE_URL:-https://github.com/microsoft/\
onnxruntime/releases/download/v${ORT_VERSION}/onnxruntime-linux-x64-${ORT_VERSION}.tgz}"
readonly NPM_PACKAGE="onnxruntime-node@${ORT_VERSION}"
readonly NPM_MEMBER="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest_dir="${root}/.cache/onnxruntime/${ORT_VERSION}"
dest="${dest_dir}/libonnxruntime.so.1"

say() { printf 'setup-ort: %s\n' "$*"; }
fail() { printf 'setup-ort: %s\n' "$*" >&2; exit 1; }

# looks_like_ort accepts a file only if it is an ELF object exporting the runtime's entry
# point, so a truncated download or an HTML error page never lands in the cache.
looks_like_ort() {
	local f="$1"
	[[ -s "$f" ]] || return 1
	[[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || return 1
	grep -q -a 'OrtGetApiBase' "$f"
}

os="$(uname -s)"
arch="$(uname -m)"
if [[ "$os" != "Linux" || "$arch" != "x86_64" ]]; then
	# A library chosen by hand is all these systems need; say nothing once it is set.
	[[ -f "${HYDROCAST_ORT_LIB:-}" ]] && exit 0
	say "no prebuilt library is fetched for ${os}/${arch}."
	say "install ONNX Runtime ${ORT_VERSION%.*}.x and set HYDROCAST_ORT_LIB to its" \
		"shared library (libonnxruntime.so or .dylib)."
	exit 0
fi

if looks_like_ort "$dest"; then
	exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# from_release downloads the official archive; a short connect timeout keeps machines
# without access to GitHub from stalling before the npm fallback.
from_release() {
	local found
	if ! command -v curl >/dev/null; then
		say "curl not found, skipping the release archive"
		return 1
	fi
	if ! curl -fsSL --connect-timeout 5 --max-time 600 -o "$work/ort.tgz" "$RELEASE_URL" \
		2>"$work/curl.err"; then
		say "release archive unavailable ($(tail -n1 "$work/curl.err")); trying npm, which is normal without access to GitHub"
		return 1
	fi
	mkdir -p "$work/release"
	if ! tar -xzf "$work/ort.tgz" -C "$work/release" 2>/dev/null; then
		say "release archive does not unpack"
		return 1
	fi

	# The archive's lib/ holds libonnxruntime.so.1 as a link to the versioned file.
	found="$(find "$work/release" -path '*/lib/libonnxruntime.so.1' | head -n1)"
	if [[ -z "$found" ]]; then
		say "release archive holds no lib/libonnxruntime.so.1"
		return 1
	fi
	cp -L "$found" "$work/lib"
}

# from_npm packs the npm package without installing it and takes the library out of it.
from_npm() {
	if ! command -v npm >/dev/null; then
		say "npm not found, skipping ${NPM_PACKAGE}"
		return 1
	fi
	mkdir -p "$work/npm"
	if ! npm pack "$NPM_PACKAGE" --ignore-scripts --silent --pack-destination "$work/npm" \
		>/dev/null 2>"$work/npm.err"; then
		say "npm pack ${NPM_PACKAGE} failed: $(tail -n1 "$work/npm.err")"
		return 1
	fi
	if ! tar -xzf "$work/npm/onnxruntime-node-${ORT_VERSION}.tgz" -C "$work/npm" \
		"$NPM_MEMBER" 2>/dev/null; then
		say "${NPM_PACKAGE} does not hold ${NPM_MEMBER#package/}"
		return 1
	fi
	cp "$work/npm/$NPM_MEMBER" "$work/lib"
}

# fetch runs one fetcher and accepts its result only if it looks like the runtime.
fetch() {
	rm -f "$work/lib"
	"$1" || return 1
	if ! looks_like_ort "$work/lib"; then
		say "the library from $2 is not an ONNX Runtime shared library"
		return 1
	fi
}

if fetch from_release "the release archive"; then
	source_name="release archive ${RELEASE_URL##*/}"
elif fetch from_npm "${NPM_PACKAGE}"; then
	source_name="npm package ${NPM_PACKAGE}"
else
	fail "could not fetch ONNX Runtime ${ORT_VERSION} from GitHub or npm." \
		"Download onnxruntime-linux-x64-${ORT_VERSION}.tgz by hand and either copy its" \
		"lib/libonnxruntime.so.1 to ${dest} or set HYDROCAST_ORT_LIB to it."
fi

# Install through a rename so a concurrent or interrupted run never leaves half a file.
mkdir -p "$dest_dir"
partial="$(mktemp "${dest_dir}/.partial.XXXXXX")"
cp "$work/lib" "$partial"
chmod 0644 "$partial"
mv -f "$partial" "$dest"
say "installed ONNX Runtime ${ORT_VERSION} from ${source_name} at ${dest#"$root"/}"
