package clientaddr_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/openomm/omm/clientaddr"
)

var proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("fd00::/64")}

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add(clientaddr.Header, v)
	}
	return r
}

func TestSource(t *testing.T) {
	res := clientaddr.New(proxies)
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client, no header", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"direct client forging the header", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"direct client inside no trusted network forging several", "203.0.113.9:5000", []string{"10.0.0.5", "198.51.100.1, 10.0.0.5"}, "203.0.113.9"},
		{"trusted proxy without header", "10.0.0.5:40000", nil, "10.0.0.5"},
		{"trusted proxy, one hop", "10.0.0.5:40000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client's forged hops left of the proxy's are ignored", "10.0.0.5:40000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.5:40000", []string{"1.1.1.1, 198.51.100.1, 192.168.7.3"}, "198.51.100.1"},
		{"hops over several header lines", "10.0.0.5:40000", []string{"1.1.1.1", "198.51.100.1", "192.168.7.3"}, "198.51.100.1"},
		{"spaces, tabs and ports", "10.0.0.5:40000", []string{"x,\t198.51.100.1:6000 ,192.168.7.3"}, "198.51.100.1"},
		{"IPv6 with brackets and port", "[fd00::1]:443", []string{"[2001:db8::7]:1234"}, "2001:db8::7"},
		{"IPv6 in brackets", "[fd00::1]:443", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"IPv6 bare", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer and hop", "[::ffff:10.0.0.5]:443", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"zone dropped", "10.0.0.5:1", []string{"fe80::1%eth0"}, "fe80::1"},
		{"every hop trusted: the leftmost", "10.0.0.5:1", []string{"192.168.7.9, 10.0.0.5"}, "192.168.7.9"},
		{"unreadable rightmost hop: the proxy", "10.0.0.5:1", []string{"198.51.100.1, unknown"}, "10.0.0.5"},
		{"empty rightmost hop: the proxy", "10.0.0.5:1", []string{"198.51.100.1,"}, "10.0.0.5"},
		{"empty header: the proxy", "10.0.0.5:1", []string{""}, "10.0.0.5"},
		{"garbage left of the client is not read", "10.0.0.5:1", []string{"<script>, " + strings.Repeat("x", 10000) + ", 198.51.100.1"}, "198.51.100.1"},
		{"peer without a port", "10.0.0.5", []string{"198.51.100.1"}, "198.51.100.1"},
		{"peer not an IP", "@", []string{"198.51.100.1"}, "@"},
		{"peer host name", "localhost:80", []string{"198.51.100.1"}, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := res.Source(request(tc.remote, tc.xff...)); got != tc.want {
				t.Errorf("Source = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNoTrustNeverReadsTheHeader(t *testing.T) {
	r := request("10.0.0.5:1", "198.51.100.1")
	for name, res := range map[string]*clientaddr.Resolver{"nil": nil, "zero": {}, "empty": clientaddr.New(nil),
		"invalid prefix only": clientaddr.New([]netip.Prefix{{}})} {
		if got := res.Source(r); got != "10.0.0.5" {
			t.Errorf("%s resolver: Source = %q, want the peer", name, got)
		}
	}
}

func TestTooManyTrustedHops(t *testing.T) {
	hops := strings.Repeat("10.0.0.5,", clientaddr.MaxHops) + "10.0.0.5"
	_, err := clientaddr.Rightmost([]string{hops}, clientaddr.New(proxies).Trusts)
	if !errors.Is(err, clientaddr.ErrInvalid) {
		t.Fatalf("Rightmost over %d trusted hops: err = %v, want ErrInvalid", clientaddr.MaxHops+1, err)
	}
	if got := clientaddr.New(proxies).Source(request("10.0.0.5:1", hops)); got != "10.0.0.5" {
		t.Errorf("Source = %q, want the peer", got)
	}
	// MaxHops hops, the last untrusted: still read.
	a, err := clientaddr.Rightmost([]string{"198.51.100.1" + strings.Repeat(",10.0.0.5", clientaddr.MaxHops-1)}, clientaddr.New(proxies).Trusts)
	if err != nil || a != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("Rightmost over %d hops = %v, %v", clientaddr.MaxHops, a, err)
	}
}

func TestParseHop(t *testing.T) {
	for _, s := range []string{"", " ", "unknown", "1.2.3", "1.2.3.4:", "1.2.3.4:99999", "[1.2.3.4", "2001:db8::1]", "[2001:db8::1]:x",
		"_hidden", "1.2.3.4 5.6.7.8", strings.Repeat(" ", clientaddr.MaxHopLen) + "1.2.3.4"} {
		if a, err := clientaddr.ParseHop(s); !errors.Is(err, clientaddr.ErrInvalid) {
			t.Errorf("ParseHop(%q) = %v, %v; want ErrInvalid", s, a, err)
		}
	}
}

func TestTrusts(t *testing.T) {
	res := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.7/24")}) // masked to 10.0.0.0/24
	for s, want := range map[string]bool{"10.0.0.1": true, "10.0.0.255": true, "10.0.1.1": false, "::ffff:10.0.0.3": true} {
		if got := res.Trusts(netip.MustParseAddr(s)); got != want {
			t.Errorf("Trusts(%s) = %v, want %v", s, got, want)
		}
	}
	if res.Trusts(netip.Addr{}) {
		t.Error("the zero Addr is trusted")
	}
}

// BenchmarkSource: naming the client of a request from a trusted proxy
// (two hops, the client's and a second proxy's) and of one from an
// untrusted peer, whose header is not read.
func BenchmarkSource(b *testing.B) {
	res := clientaddr.New(proxies)
	for name, r := range map[string]*http.Request{
		"via-proxy": request("10.0.0.5:40000", "203.0.113.1, 198.51.100.1, 192.168.7.3"),
		"direct":    request("203.0.113.9:5000", "198.51.100.1"),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = res.Source(r)
			}
		})
	}
}
