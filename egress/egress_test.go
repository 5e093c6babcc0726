package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/egress"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		addr string
		want egress.Class
	}{
		{"93.184.215.14", egress.Public},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", egress.Public},
		{"127.0.0.1", egress.Loopback},
		{"127.8.9.10", egress.Loopback},
		{"::1", egress.Loopback},
		{"::ffff:127.0.0.1", egress.Loopback}, // IPv4-mapped
		{"64:ff9b::7f00:1", egress.Loopback},  // 127.0.0.1 behind NAT64
		{"64:ff9b::5db8:d70e", egress.Public}, // 93.184.215.14 behind NAT64
		{"10.1.2.3", egress.Private},
		{"172.16.0.1", egress.Private},
		{"172.31.255.255", egress.Private},
		{"192.168.1.1", egress.Private},
		{"::ffff:192.168.1.1", egress.Private},
		{"fd12:3456::1", egress.Private},    // ULA
		{"100.64.0.1", egress.Private},      // shared address space (CGNAT)
		{"100.127.255.254", egress.Private}, //
		{"169.254.169.254", egress.Metadata},
		{"::ffff:169.254.169.254", egress.Metadata},
		{"64:ff9b::a9fe:a9fe", egress.Metadata},
		{"fd00:ec2::254", egress.Metadata}, // AWS IMDS over IPv6, inside the ULA range
		{"100.100.100.200", egress.Metadata},
		{"169.254.1.1", egress.LinkLocal},
		{"fe80::1", egress.LinkLocal},
		{"fe80::1%eth0", egress.LinkLocal},
		{"0.0.0.0", egress.Unspecified},
		{"::", egress.Unspecified},
		{"224.0.0.1", egress.Multicast},
		{"ff02::1", egress.Multicast},
		{"192.0.2.1", egress.SpecialPurpose},  // documentation
		{"198.18.0.1", egress.SpecialPurpose}, // benchmarking
		{"240.0.0.1", egress.SpecialPurpose},  // reserved
		{"255.255.255.255", egress.SpecialPurpose},
		{"2001:db8::1", egress.SpecialPurpose},    // documentation
		{"2002:7f00:1::1", egress.SpecialPurpose}, // 6to4 (here of 127.0.0.1)
		{"::127.0.0.1", egress.SpecialPurpose},    // IPv4-compatible, deprecated
		{"64:ff9b:1::1", egress.SpecialPurpose},   // local-use NAT64
	} {
		if got := egress.Classify(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Classify(%s) = %s, want %s", c.addr, got, c.want)
		}
	}
}

func TestClassifyHostWithoutDNS(t *testing.T) {
	for _, c := range []struct {
		host  string
		want  egress.Class
		known bool
	}{
		{"crm.example.com", egress.Public, false},
		{"hooks.slack.com", egress.Public, false},
		{"x", egress.Public, false}, // a single label: only DNS can tell, and the dialer checks what it says
		{"93.184.215.14", egress.Public, true},
		{"localhost", egress.Loopback, true},
		{"LOCALHOST.", egress.Loopback, true},
		{"api.localhost", egress.Loopback, true},
		{"127.0.0.1", egress.Loopback, true},
		{"::1", egress.Loopback, true},
		{"metadata.google.internal", egress.Metadata, true},
		{"metadata", egress.Metadata, true},
		{"169.254.169.254", egress.Metadata, true},
		{"crm.corp.internal", egress.Private, true},
		{"printer.local", egress.Private, true},
		{"nas.home.arpa", egress.Private, true},
	} {
		got, known, err := egress.ClassifyHost(c.host)
		if err != nil || got != c.want || known != c.known {
			t.Errorf("ClassifyHost(%q) = %s, %v, %v; want %s, %v", c.host, got, known, err, c.want, c.known)
		}
	}
	// Numbers that some resolvers read as 127.0.0.1 are not hosts.
	for _, host := range []string{"2130706433", "0x7f000001", "0x7f.1", "127.1", "017700000001", "1.2.3.4.5"} {
		if _, _, err := egress.ClassifyHost(host); err == nil {
			t.Errorf("ClassifyHost(%q) took a number that is not a dotted-quad address", host)
		}
	}
}

func TestPolicyAllows(t *testing.T) {
	strict, loopback, private := egress.Policy{}, egress.Policy{AllowLoopback: true}, egress.Policy{AllowPrivate: true}
	for _, c := range []struct {
		class                     egress.Class
		strict, loopback, private bool
	}{
		{egress.Public, true, true, true},
		{egress.Loopback, false, true, true},
		{egress.Private, false, false, true},
		{egress.LinkLocal, false, false, false},
		{egress.Metadata, false, false, false},
		{egress.Unspecified, false, false, false},
		{egress.Multicast, false, false, false},
		{egress.SpecialPurpose, false, false, false},
	} {
		if strict.Allows(c.class) != c.strict || loopback.Allows(c.class) != c.loopback || private.Allows(c.class) != c.private {
			t.Errorf("%s: strict %v, loopback %v, private %v; want %v, %v, %v", c.class,
				strict.Allows(c.class), loopback.Allows(c.class), private.Allows(c.class), c.strict, c.loopback, c.private)
		}
	}
}

func TestCheckURLSaysWhy(t *testing.T) {
	for _, c := range []struct {
		url, want string
	}{
		{"http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"},
		{"http://[::ffff:127.0.0.1]/hook", "127.0.0.1 is a loopback address"},
		{"http://localhost:9000/x", "localhost names a loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal names a cloud metadata address"},
		{"https://10.0.0.5/crm", "10.0.0.5 is a private address"},
		{"http://user@2130706433/", "2130706433 is not an IPv4 address in four decimal parts"},
	} {
		err := egress.Policy{}.CheckURL(c.url)
		if err == nil || err.Error() != c.want && !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("CheckURL(%s) = %v, want %q", c.url, err, c.want)
		}
	}
	for _, ok := range []string{"https://crm.example.com/hooks/x", "https://93.184.215.14/x", "http://x"} {
		if err := (egress.Policy{}).CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%s) = %v", ok, err)
		}
	}
	if err := (egress.Policy{AllowPrivate: true}).CheckURL("https://10.0.0.5/crm"); err != nil {
		t.Errorf("allow_private: %v", err)
	}
	if err := (egress.Policy{AllowPrivate: true}).CheckURL("http://169.254.169.254/"); err == nil {
		t.Error("allow_private let a metadata address through")
	}
}

// client is a client whose dialer runs the policy's Control, as activities builds it, and follows
// redirects (which rudderhook's own client does not) to show that Control covers them too. A fence
// behind the policy makes sure that no test here ever connects beyond this machine, even if the policy
// let an address through.
func client(t *testing.T, p egress.Policy) *http.Client {
	fence := func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := p.Control(ctx, network, address, c); err != nil {
			return err
		}
		if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("the policy let %s be dialled", address)
			return errors.New("fenced")
		}
		return nil
	}
	d := &net.Dialer{Timeout: 5 * time.Second, ControlContext: fence}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func refusedClass(t *testing.T, err error) egress.Class {
	t.Helper()
	var refused *egress.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want a *egress.RefusedError", err)
	}
	return refused.Class
}

// The dialer refuses what the policy does not allow after DNS: a literal address and a name that
// resolves to it alike, and the server never sees a request.
func TestControlRefusesLoopbackAtDialTime(t *testing.T) {
	srv, hits := countingServer(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	strict := client(t, egress.Policy{})
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		_, err := strict.Get(u)
		if c := refusedClass(t, err); c != egress.Loopback {
			t.Errorf("%s refused as %s", u, c)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server got %d requests", hits.Load())
	}
	resp, err := client(t, egress.Policy{AllowLoopback: true}).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	_ = resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("the allowed request did not arrive (%d)", hits.Load())
	}
}

// A redirect from an allowed address to a refused one is refused when the redirect is dialled.
func TestControlRefusesARedirectToAMetadataAddress(t *testing.T) {
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
	})
	_, err := client(t, egress.Policy{AllowPrivate: true}).Get(srv.URL)
	if c := refusedClass(t, err); c != egress.Metadata {
		t.Errorf("redirect refused as %s", c)
	}
	if hits.Load() != 1 {
		t.Errorf("the first hop got %d requests, want 1", hits.Load())
	}
	if !strings.Contains(err.Error(), "169.254.169.254 is a cloud metadata address") {
		t.Errorf("err = %v", err)
	}
}
