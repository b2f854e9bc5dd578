package upload

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// maxArchiveEntries caps the entries of an archive, folders included, so that a
// crafted one cannot cost a map entry per byte.
const maxArchiveEntries = 4096

// bundle is an upload as files in memory: one ONNX file, and the files beside it
// when it came in an archive. Nothing is written to disk, so no entry name can
// reach outside the upload whatever it says; names are checked all the same,
// since external data locations are resolved against them.
type bundle struct {
	files    map[string][]byte // by clean, relative, slash-separated path
	model    string            // the ONNX file's path in files
	archived bool
}

// unpack reads an upload: an ONNX file as it is, or a zip, tar or gzip-compressed
// tar archive whose files, all regular, add up to at most limit bytes.
func unpack(upload []byte, limit int64) (bundle, error) {
	var files map[string][]byte
	var err error
	switch {
	case bytes.HasPrefix(upload, []byte("PK\x03\x04")),
		bytes.HasPrefix(upload, []byte("PK\x05\x06")):
		files, err = readZip(upload, limit)
	case bytes.HasPrefix(upload, []byte{0x1f, 0x8b}):
		files, err = readGzipTar(upload, limit)
	case len(upload) > 262 && string(upload[257:262]) == "ustar":
		files, err = readTar(bytes.NewReader(upload), limit)
	default:
		return bundle{files: map[string][]byte{"model.onnx": upload}, model: "model.onnx"},
			nil
	}
	if err != nil {
		return bundle{}, err
	}

	b := bundle{files: files, archived: true}
	var models []string
	for name := range files {
		if strings.HasSuffix(strings.ToLower(name), ".onnx") {
			models = append(models, name)
		}
	}
	if len(models) != 1 {
		return bundle{}, invalid("archive holds %d .onnx files, want exactly one",
			len(models))
	}
	b.model = models[0]
	return b, nil
}

func readZip(upload []byte, limit int64) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(upload), int64(len(upload)))
	if err != nil {
		return nil, invalid("zip archive: %v", err)
	}
	if len(zr.File) > maxArchiveEntries {
		return nil, invalid("zip archive has %d entries, at most %d allowed",
			len(zr.File), maxArchiveEntries)
	}

	files := make(map[string][]byte)
	var total int64
	for _, f := range zr.File {
		mode := f.Mode()
		name, err := entryName(f.Name, mode.IsDir())
		if err != nil {
			return nil, err
		}
		if mode.IsDir() {
			continue
		}
		if err := entryType(f.Name, mode); err != nil {
			return nil, err
		}
		if f.UncompressedSize64 > uint64(limit-total) {
			return nil, tooLarge(limit)
		}

		rc, err := f.Open()
		if err != nil {
			return nil, invalid("zip entry %q: %v", f.Name, err)
		}
		data, err := readLimited(rc, limit-total)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		if err := add(files, name, data); err != nil {
			return nil, err
		}
		total += int64(len(data))
	}
	return files, nil
}

func readGzipTar(upload []byte, limit int64) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(upload))
	if err != nil {
		return nil, invalid("gzip stream: %v", err)
	}
	defer zr.Close()
	return readTar(zr, limit)
}

func readTar(r io.Reader, limit int64) (map[string][]byte, error) {
	tr := tar.NewReader(r)
	files := make(map[string][]byte)
	var total int64
	for entries := 0; ; entries++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, invalid("tar archive: %v", err)
		}
		if entries >= maxArchiveEntries {
			return nil, invalid("tar archive has more than %d entries", maxArchiveEntries)
		}

		mode := h.FileInfo().Mode()
		name, err := entryName(h.Name, h.Typeflag == tar.TypeDir)
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if h.Typeflag == tar.TypeLink {
			return nil, invalid("archive entry %q is a hard link; links are refused",
				h.Name)
		}
		if err := entryType(h.Name, mode); err != nil {
			return nil, err
		}
		if h.Size > limit-total {
			return nil, tooLarge(limit)
		}

		data, err := readLimited(tr, limit-total)
		if err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
		if err := add(files, name, data); err != nil {
			return nil, err
		}
		total += int64(len(data))
	}
}

// entryName checks an archive entry's name and returns it cleaned of a leading
// "./" and a folder's trailing "/". It refuses absolute names, names with ".."
// or empty elements, backslashes (a Windows separator that would otherwise hide
// a "..") and control characters: the checks against "zip slip".
func entryName(name string, dir bool) (string, error) {
	clean := strings.TrimPrefix(name, "./")
	if dir {
		clean = strings.TrimSuffix(clean, "/")
	}
	switch {
	case clean == "" || clean == ".":
		if dir {
			return clean, nil // the archive's root folder
		}
		return "", invalid("archive entry with an empty name")
	case strings.HasPrefix(clean, "/"), len(clean) > 1 && clean[1] == ':':
		return "", invalid("archive entry %q has an absolute path", name)
	case strings.ContainsAny(clean, "\\"):
		return "", invalid("archive entry %q holds a backslash", name)
	case strings.IndexFunc(clean, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "", invalid("archive entry %q holds a control character", name)
	}
	for _, elem := range strings.Split(clean, "/") {
		if elem == ".." {
			return "", invalid("archive entry %q climbs out of the archive with ..", name)
		}
	}
	if path.Clean(clean) != clean {
		return "", invalid("archive entry %q is not a clean path", name)
	}
	return clean, nil
}

// entryType refuses every entry but regular files: symbolic links, which could
// point anywhere, devices, pipes and sockets.
func entryType(name string, mode fs.FileMode) error {
	switch {
	case mode&fs.ModeSymlink != 0:
		return invalid("archive entry %q is a symbolic link; links are refused", name)
	case !mode.IsRegular():
		return invalid("archive entry %q is not a regular file (%v)", name, mode.Type())
	}
	return nil
}

func add(files map[string][]byte, name string, data []byte) error {
	if _, dup := files[name]; dup {
		return invalid("archive holds %q twice", name)
	}
	files[name] = data
	return nil
}

// readLimited reads r to its end, refusing more than limit bytes: an entry's
// declared size can lie about what its compressed stream expands to.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, invalid("read: %v", err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(limit)
	}
	return data, nil
}

func tooLarge(limit int64) error {
	return invalid("archive unpacks to more than %d bytes", limit)
}
