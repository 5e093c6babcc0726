// Package egress says which network addresses rudderhook's outbound requests may reach. Business users
// write URLs in rules, and the worker that calls them sits inside the network, beside metadata endpoints
// and admin ports; so a rule's url: may reach only public addresses, a configured target also private
// ones when the operator says so (allow_private), and nothing may reach a cloud metadata address.
//
// The same Policy is applied twice: to the text of a URL when rules are saved (CheckURL: a literal
// address, or a name that always means one, such as localhost; no DNS, since the answer may change by
// the time the request is made), and to the address actually dialled, after DNS, by a net.Dialer whose
// Control is Policy.Control (so neither DNS nor a redirect can route around it).
//
// Like rules and airudder it is a domain package: it does no I/O of its own (Control runs inside a
// dialer that activities build) and imports nothing of rudderhook's.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// Class is what kind of destination an address is.
type Class int

const (
	// Public is an address on the internet: the only kind a rule's url: may reach.
	Public Class = iota
	// Loopback is this machine: 127.0.0.0/8, ::1.
	Loopback
	// Private is a network of the organisation's own: 10/8, 172.16/12, 192.168/16 (RFC 1918), fc00::/7
	// (ULA) and 100.64/10 (shared address space, RFC 6598, which clouds use inside their networks).
	Private
	// LinkLocal is the local link: 169.254/16, fe80::/10.
	LinkLocal
	// Metadata is a cloud's instance metadata service (169.254.169.254 and friends), which hands out
	// credentials to whoever asks from the machine: never reachable, whatever the configuration says.
	Metadata
	// Unspecified is 0.0.0.0 or ::, which Linux dials as this machine.
	Unspecified
	// Multicast is 224/4, ff00::/8.
	Multicast
	// SpecialPurpose is any other address of IANA's special-purpose registries (documentation,
	// benchmarking, reserved, 6to4, Teredo, …) or outside IPv6's global unicast range.
	SpecialPurpose
)

var classPhrases = map[Class]string{
	Public:         "a public address",
	Loopback:       "a loopback address",
	Private:        "a private address",
	LinkLocal:      "a link-local address",
	Metadata:       "a cloud metadata address",
	Unspecified:    "an unspecified address",
	Multicast:      "a multicast address",
	SpecialPurpose: "a special-purpose address",
}

// String is the class as a noun phrase: "a loopback address".
func (c Class) String() string { return classPhrases[c] }

var (
	// metadataAddrs are the instance metadata services of the common clouds: AWS (IMDS, ECS task and EKS
	// pod credentials, IMDS over IPv6), GCP and Azure (169.254.169.254 too), Alibaba Cloud and Oracle
	// Cloud. Most lie in ranges refused anyway; naming them keeps them refused where private addresses
	// are allowed (100.100.100.200 is shared address space, fd00:ec2::254 a ULA).
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("169.254.170.2"), netip.MustParseAddr("169.254.170.23"),
		netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("fd00:ec2::23"),
		netip.MustParseAddr("100.100.100.200"), netip.MustParseAddr("192.0.0.192"),
	}
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
	// nat64 is the well-known NAT64 prefix (RFC 6052): an IPv6-only network reaches IPv4 hosts through
	// it, the IPv4 address in its last 32 bits, which is what the address is classified by.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// specialPurpose checks the rest against IANA's special-purpose registries, on any port.
	specialPurpose = ssrf.New(ssrf.WithAnyPort())
)

// Classify says what kind of destination ip is. An IPv4 address written in IPv6 (::ffff:127.0.0.1) or
// behind the NAT64 prefix (64:ff9b::7f00:1) is the IPv4 address it carries.
func Classify(ip netip.Addr) Class {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		return Classify(netip.AddrFrom4([4]byte(b[12:])))
	}
	switch {
	case !ip.IsValid():
		return SpecialPurpose
	case isMetadata(ip):
		return Metadata
	case ip.IsUnspecified():
		return Unspecified
	case ip.IsLoopback():
		return Loopback
	case ip.IsMulticast():
		return Multicast
	case ip.IsLinkLocalUnicast():
		return LinkLocal
	case ip.IsPrivate() || sharedAddressSpace.Contains(ip):
		return Private
	case specialPurpose.SafeAddr(ip) != nil:
		return SpecialPurpose
	}
	return Public
}

func isMetadata(ip netip.Addr) bool {
	for _, m := range metadataAddrs {
		if ip == m {
			return true
		}
	}
	return false
}

var (
	// hostNames are names that mean a class whatever DNS says (or that DNS only answers from inside a
	// cloud): loopback names of RFC 6761 and /etc/hosts, and metadata services.
	hostNames = map[string]Class{
		"localhost": Loopback, "localhost.localdomain": Loopback, "ip6-localhost": Loopback, "ip6-loopback": Loopback,
		"metadata.google.internal": Metadata, "metadata.goog": Metadata, "metadata": Metadata, "instance-data": Metadata,
		"instance-data.ec2.internal": Metadata,
	}
	// hostSuffixes are domains that name this machine (.localhost, RFC 6761) or a private network:
	// .internal (reserved by ICANN for private use), .home.arpa (RFC 8375), .local (multicast DNS).
	hostSuffixes = []struct {
		suffix string
		class  Class
	}{
		{".localhost", Loopback}, {".internal", Private}, {".home.arpa", Private}, {".local", Private},
	}
)

// ClassifyHost says what a URL's host (url.URL.Hostname) is without resolving it: a literal address, or a
// name that always means one kind of destination. known is false for a name only DNS can tell. A host
// whose last label is a number but that is not an IPv4 address in four decimal parts (2130706433,
// 0x7f.1, 127.1) is an error: resolvers read such names as addresses in ways that differ.
func ClassifyHost(host string) (c Class, known bool, err error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return Classify(ip), true, nil
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if numeric(last) {
		return 0, false, fmt.Errorf("%s is not an IPv4 address in four decimal parts (a.b.c.d), nor a host name", host)
	}
	if c, ok := hostNames[h]; ok {
		return c, true, nil
	}
	for _, s := range hostSuffixes {
		if strings.HasSuffix(h, s.suffix) || h == s.suffix[1:] {
			return s.class, true, nil
		}
	}
	return Public, false, nil
}

// numeric says whether a label is a number as the WHATWG URL standard reads an IPv4 part: decimal, or
// hexadecimal after 0x.
func numeric(label string) bool {
	digits := "0123456789"
	if len(label) > 1 && (strings.HasPrefix(label, "0x") || strings.HasPrefix(label, "0X")) {
		label, digits = label[2:], "0123456789abcdefABCDEF"
	}
	return label != "" && strings.Trim(label, digits) == ""
}

// Policy is which kinds of destination outbound requests may reach. The zero value allows public
// addresses only: what a rule's url: may reach.
type Policy struct {
	// AllowLoopback allows this machine (127.0.0.0/8, ::1): `dev`, and tests whose fakes listen there
	// (RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK).
	AllowLoopback bool
	// AllowPrivate allows private networks and loopback: a configured target whose operator says
	// allow_private. Link-local, metadata, unspecified, multicast and special-purpose addresses stay
	// refused.
	AllowPrivate bool
}

// Allows says whether the policy lets a request reach a destination of class c.
func (p Policy) Allows(c Class) bool {
	switch c {
	case Public:
		return true
	case Loopback:
		return p.AllowLoopback || p.AllowPrivate
	case Private:
		return p.AllowPrivate
	}
	return false
}

// RefusedError is a destination the policy does not allow.
type RefusedError struct {
	// Host is the name the address came from, when there was one.
	Host string
	// Addr is the address refused; not valid when the name alone told (localhost).
	Addr  netip.Addr
	Class Class
}

func (e *RefusedError) Error() string {
	switch {
	case !e.Addr.IsValid():
		return fmt.Sprintf("%s names %s", e.Host, e.Class)
	case e.Host == "" || isLiteral(e.Host):
		return fmt.Sprintf("%s is %s", e.Addr, e.Class)
	}
	return fmt.Sprintf("%s resolves to %s, %s", e.Host, e.Addr, e.Class)
}

func isLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// Check refuses an address the policy does not allow, with a *RefusedError.
func (p Policy) Check(ip netip.Addr) error {
	if c := Classify(ip); !p.Allows(c) {
		return &RefusedError{Addr: ip.WithZone("").Unmap(), Class: c}
	}
	return nil
}

// CheckHost refuses a URL's host that is, without resolving it, a destination the policy does not
// allow (a *RefusedError), or an ambiguous numeric host. A name that only DNS can tell passes: the
// dialer's Control checks what it resolves to.
func (p Policy) CheckHost(host string) error {
	c, known, err := ClassifyHost(host)
	if err != nil {
		return err
	}
	if !known || p.Allows(c) {
		return nil
	}
	r := &RefusedError{Host: host, Class: c}
	if ip, err := netip.ParseAddr(host); err == nil {
		r.Host, r.Addr = "", ip.WithZone("").Unmap()
	}
	return r
}

// CheckURL is CheckHost on a URL's host. A URL that does not parse or has no host is an error.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	if u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	return p.CheckHost(u.Hostname())
}

// Control is a net.Dialer's ControlContext: it runs after DNS, just before each connection is made,
// with the address about to be dialled, and refuses one the policy does not allow. A redirect, a DNS
// answer that changed since the rules were saved, or a name that resolves to several addresses cannot
// get past it. Only TCP is dialled.
func (p Policy) Control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("egress: %s is not dialled", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot read the address %q: %w", address, err)
	}
	return p.Check(ap.Addr())
}
