package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium, headless, against the example
// server over HTTPS. Every page the tests load is checked for JavaScript
// errors, failed sub-resources, stack traces and basic accessibility.

const chromiumPath = "/usr/bin/chromium"

// browserHangGuard ends a browser test that stopped making progress (a
// wedged browser), so that it fails instead of hanging; it is not a
// performance assertion.
const browserHangGuard = 5 * time.Minute

// tab is one browser tab, and what it saw that a test must fail on.
type tab struct {
	ctx  context.Context
	base string

	mu       sync.Mutex
	docs     map[network.RequestID]bool
	problems []string
}

// startChromium starts one headless Chromium for the test, trusting the
// server's development CA, and returns its tab. Without Chromium the test
// is skipped, except in CI, where Chromium must be installed.
func startChromium(t *testing.T, base, dataDir string) *tab {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is required in CI: %v", err)
		}
		t.Skipf("Chromium not installed (%v)", err)
	}
	spki := devCASPKI(t, dataDir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		// Trust the server's development CA, and only it: a certificate
		// chaining to another unknown issuer is still refused.
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserHangGuard)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	tb := &tab{ctx: bctx, base: base, docs: map[network.RequestID]bool{}}
	// Start the browser and the tab, then listen to everything it does.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Listen(bctx, tb.event); err != nil {
		t.Fatalf("listening to Chromium: %v", err)
	}
	return tb
}

// devCASPKI is the base64 SHA-256 of the development CA's public key, the
// form Chromium's --ignore-certificate-errors-spki-list takes.
func devCASPKI(t *testing.T, dataDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "tls", caFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block in the development CA file")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// event runs on chromedp's reading goroutine: it only records.
func (tb *tab) event(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeDocument {
			tb.docs[ev.RequestID] = true
		}
	case *network.EventResponseReceived:
		// A document's status is the test's to check (a form answering
		// 401 is expected); a sub-resource must load.
		if ev.Type != network.ResourceTypeDocument && ev.Response != nil && ev.Response.Status >= 400 {
			tb.problems = append(tb.problems, fmt.Sprintf("sub-resource %s answered %d", ev.Response.URL, ev.Response.Status))
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			tb.problems = append(tb.problems, fmt.Sprintf("loading %s (%s) failed: %s %s", ev.RequestID, ev.Type, ev.ErrorText, ev.BlockedReason))
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			tb.problems = append(tb.problems, fmt.Sprintf("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber, text))
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				var str string
				if json.Unmarshal(a.Value, &str) == nil {
					args = append(args, str)
				} else {
					args = append(args, string(a.Value)+a.Description)
				}
			}
			tb.problems = append(tb.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError {
			return
		}
		// Chromium logs a document's 4xx status as an error; that status
		// is asserted by the test itself.
		if e.Source == log.EntrySourceNetwork && tb.docs[e.NetworkRequestID] {
			return
		}
		tb.problems = append(tb.problems, fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL))
	}
}

// use registers a screenshot of the page for when t fails.
func (tb *tab) use(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("OMM_BROWSER_SHOTS") != "" {
			tb.screenshot(t)
		}
	})
}

// screenshot saves the page as a test artifact (kept with go test
// -artifacts) and logs where.
func (tb *tab) screenshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100) /* 100: PNG, lossless */)
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	url, _ := chromedp.Run(ctx, chromedp.Location())
	path := filepath.Join(t.ArtifactDir(), strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot of %s: %s", url, path)
}

// takeProblems returns and forgets what the browser reported.
func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	p := tb.problems
	tb.problems = nil
	return p
}

// page is what a loaded page looks like to a test.
type loaded struct {
	Status int
	URL    string
	Text   string // the visible text of <main>
}

// open navigates to path and checks the page.
func (tb *tab) open(t *testing.T, path string) loaded {
	t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	return tb.check(t, resp)
}

// submit fills the fields (CSS selector → value; "on" / "off" for check
// boxes) and clicks button, then checks the page the form led to.
func (tb *tab) submit(t *testing.T, fields map[string]string, button string) loaded {
	t.Helper()
	for sel, v := range fields {
		// Set as a person's typing would leave it; a missing field is
		// the test's mistake (or the page's), not something to skip.
		js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
			if (el.type === "checkbox") el.checked = %t; else el.value = %q;
			el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}));
			return el.type === "checkbox" || el.value === %q; })()`, sel, v == "on", v, v)
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](js))
		if err != nil || !ok {
			t.Fatalf("filling %s with %.40q: %v (no such field, or no such option)", sel, v, err)
		}
	}
	return tb.click(t, button)
}

// click clicks what sel selects and checks the page it leads to.
func (tb *tab) click(t *testing.T, sel string) loaded {
	t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
	return tb.check(t, resp)
}

// stackTrace matches what a Go panic or error dump would show.
var stackTrace = regexp.MustCompile(`goroutine \d+|panic:|\.go:\d+|runtime/debug|\bsql: |pq: |sqlite`)

// check reads the loaded page and fails the test on anything the browser
// reported, on a stack trace, and on missing accessibility basics.
func (tb *tab) check(t *testing.T, resp *network.Response) loaded {
	t.Helper()
	url, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	// The page must be fully loaded (its style sheet and icon too) before
	// the problems are read.
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.readyState === "complete"`)); err != nil {
		t.Fatal(err)
	}
	l := loaded{URL: strings.TrimPrefix(url, tb.base), Text: text}
	if resp != nil {
		l.Status = int(resp.Status)
	}
	for _, p := range tb.takeProblems() {
		t.Errorf("%s: %s", l.URL, p)
	}
	if stackTrace.MatchString(text) {
		t.Errorf("%s shows internals:\n%s", l.URL, text)
	}
	for _, p := range tb.accessibility(t) {
		t.Errorf("%s: accessibility: %s", l.URL, p)
	}
	return l
}

// a11yScript lists what the page lacks of the accessibility basics: a
// language, a title, exactly one h1, a label for every form control, alt
// text for every image, a name for every button and inline SVG image.
const a11yScript = `(() => {
  const p = [];
  if (!document.documentElement.lang) p.push("html has no lang");
  if (!document.title.trim()) p.push("no <title>");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) p.push(h1 + " h1 elements, want 1");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const labelled = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) ||
      el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) p.push("form control without a label: " + el.outerHTML);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) p.push("image without alt text: " + img.outerHTML);
  }
  for (const svg of document.querySelectorAll("svg[role=img]")) {
    if (!svg.getAttribute("aria-label") && !svg.querySelector("title")) p.push("SVG image without a name");
  }
  for (const b of document.querySelectorAll("button")) {
    if (!b.innerText.trim() && !b.getAttribute("aria-label")) p.push("button without a name: " + b.outerHTML);
  }
  return p;
})()`

func (tb *tab) accessibility(t *testing.T) []string {
	t.Helper()
	p, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](a11yScript))
	if err != nil {
		t.Fatalf("accessibility check: %v", err)
	}
	return p
}

// has reports whether sel matches an element on the page.
func (tb *tab) has(t *testing.T, sel string) bool {
	t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// texts returns the visible texts of the elements sel matches.
func (tb *tab) texts(t *testing.T, sel string) []string {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.innerText.trim())`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// attr returns attribute name of the first element sel matches.
func (tb *tab) attr(t *testing.T, sel, name string) string {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute(%q) || ""`, sel, name)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// clearCookies signs the browser out of everything.
func (tb *tab) clearCookies(t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}
