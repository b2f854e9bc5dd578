package drift

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteHTMLSelfContained(t *testing.T) {
	r := liveMonitor(t, testProfile(t, 500, 3000), 3000).Report(Options{})
	r.Title = `sweat <rate> v3`
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	// One chart for the dataset, two per feature.
	if got, want := strings.Count(page, "<svg "), 1+2*len(r.Features); got != want {
		t.Errorf("%d SVG charts, want %d", got, want)
	}
	for _, banned := range []string{"<script", "<link", "src=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q: it must not load anything", banned)
		}
	}
	if !strings.Contains(page, "sweat &lt;rate&gt; v3") {
		t.Error("title not escaped")
	}
	// Drifted features come first in the table as in the sections.
	i := strings.Index(page, `id="f-0-sport"`)
	if j := strings.Index(page, `id="f-2-hr_large"`); i < 0 || j < i {
		t.Errorf("sections out of order (sport at %d, hr_large at %d)", i, j)
	}
}

// chromium returns the path of a headless-capable Chromium, skipping the test when
// there is none outside CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium not installed (apt package: chromium)")
	}
	t.Fatal("chromium not installed; CI must install the apt package chromium")
	return ""
}

// runChromium loads page in headless Chromium with the extra flags and returns its
// standard output and standard error.
func runChromium(t *testing.T, bin, page string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errOut.String())
	}
	return out.String(), errOut.String()
}

func TestHTMLRendersInChromium(t *testing.T) {
	bin := chromium(t)
	r := liveMonitor(t, testProfile(t, 500, 3000), 3000).Report(Options{})
	dir := t.TempDir()
	page := filepath.Join(dir, "drift.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	dom, logs := runChromium(t, bin, page, "--dump-dom")
	if got, want := strings.Count(dom, "<svg "), 1+2*len(r.Features); got != want {
		t.Errorf("the parsed DOM has %d SVG charts, want %d", got, want)
	}
	if !strings.Contains(dom, `class="live"`) || !strings.Contains(dom, "<polyline") {
		t.Error("the parsed DOM lacks live bars or a time series line")
	}
	for _, line := range strings.Split(logs, "\n") {
		// Console messages, script errors and refused loads all log as CONSOLE.
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Refused to") {
			t.Errorf("browser console: %s", line)
		}
	}

	shot := filepath.Join(dir, "drift.png")
	runChromium(t, bin, page, "--screenshot="+shot, "--window-size=1000,900",
		"--hide-scrollbars")
	assertDrawsBars(t, shot)
}

// assertDrawsBars checks that a screenshot shows the reference and live bar colours.
func assertDrawsBars(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]uint32{"reference": {0x7d, 0x8f, 0xb3}, "live": {0xe8, 0x83, 0x3a},
		"series": {0x2b, 0x59, 0xc3}}
	found := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for name, c := range want {
				if r>>8 == c[0] && g>>8 == c[1] && bl>>8 == c[2] {
					found[name]++
				}
			}
		}
	}
	for name := range want {
		if found[name] < 20 {
			t.Errorf("screenshot has %d pixels of the %s colour; the charts did not draw",
				found[name], name)
		}
	}
}
