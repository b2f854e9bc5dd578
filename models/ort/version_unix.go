//go:build unix

package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>

// The first two members of OrtApiBase, whose layout the runtime keeps stable across
// releases so that callers can ask any version what it is.
typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} hc_ort_api_base;

typedef const hc_ort_api_base *(*hc_get_api_base)(void);

// hc_ort_version writes the version of the runtime at path, or the loader's error, to
// buf. On success the library stays loaded, so that loading it again for use finds
// it resident instead of unloading and reloading it.
static int hc_ort_version(const char *path, char *buf, size_t n) {
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(buf, n, "%s", dlerror());
		return -1;
	}
	hc_get_api_base get = (hc_get_api_base)dlsym(lib, "OrtGetApiBase");
	const hc_ort_api_base *base = get == NULL ? NULL : get();
	const char *v = base == NULL ? NULL : base->GetVersionString();
	if (v == NULL) {
		snprintf(buf, n, "no OrtGetApiBase: not an ONNX Runtime library");
		dlclose(lib);
		return -1;
	}
	snprintf(buf, n, "%s", v);
	return 0;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// libraryVersion loads the shared library at path and returns the ONNX Runtime
// version it reports. The runtime's own initialisation cannot do this for an older
// release: it asks for an API that release lacks and fails without saying which
// version it found.
func libraryVersion(path string) (string, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))

	var buf [512]C.char
	if C.hc_ort_version(cpath, &buf[0], C.size_t(len(buf))) != 0 {
		return "", errors.New(C.GoString(&buf[0]))
	}
	return C.GoString(&buf[0]), nil
}
