package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// ProbeConfig restricts what /probe may reach.
type ProbeConfig struct {
	// AllowedTargets lists configured target names, networks (CIDR), IP
	// addresses and host names. Empty: any target (the exporter is then an
	// open relay into whatever network it can reach).
	AllowedTargets []string `yaml:"allowed_targets,omitempty"`
}

// ErrNotAllowed is wrapped by every refusal of the policy.
var ErrNotAllowed = errors.New("not in probe.allowed_targets")

// Policy decides which controllers /probe may reach. A nil Policy allows
// everything.
type Policy struct {
	names     map[string]bool // configured target names
	endpoints map[string]bool // host:port of allowed named targets, and of proxies
	hosts     map[string]bool // host names, lower case
	nets      []netip.Prefix
}

// compilePolicy builds the Policy of a validated config; nil when open.
func (c *Config) compilePolicy() (*Policy, error) {
	if len(c.Probe.AllowedTargets) == 0 {
		return nil, nil
	}
	p := &Policy{names: map[string]bool{}, endpoints: map[string]bool{}, hosts: map[string]bool{}}
	addHost := func(h string) {
		if ip, err := netip.ParseAddr(h); err == nil {
			p.nets = append(p.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		} else {
			p.hosts[strings.ToLower(h)] = true
		}
	}
	for _, e := range c.Probe.AllowedTargets {
		e = strings.TrimSpace(e)
		if t, ok := c.Target(e); ok {
			// That controller, at exactly its address and port; not its whole host.
			p.names[e] = true
			u, _ := collector.ParseTarget(t.Address) // validated
			p.endpoints[endpoint(u)] = true
			continue
		}
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.nets = append(p.nets, pfx.Masked())
			continue
		}
		if e == "" || strings.ContainsAny(e, "/:@ ") && net.ParseIP(e) == nil {
			return nil, fmt.Errorf("probe.allowed_targets: %q is not a target name, network, address or host name", e)
		}
		addHost(e)
	}
	// A module's proxy is the operator's own choice: connections to it are allowed.
	for _, m := range c.Modules {
		if u := m.HTTPClientConfig.ProxyURL.URL; u != nil && u.Hostname() != "" {
			p.endpoints[endpoint(u)] = true
		}
	}
	return p, nil
}

// endpoint is a URL's host:port, with the scheme's default port.
func endpoint(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		if port == "" {
			port = "80"
		}
	}
	return strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

// AllowsName says whether the configured target name may be probed.
func (p *Policy) AllowsName(name string) bool { return p == nil || p.names[name] }

func (p *Policy) allowsIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range p.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// resolve returns the addresses of host that the policy allows; an error
// when it allows none. An allowed host name returns nil, nil: any address.
func (p *Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if p == nil || p.hosts[strings.ToLower(host)] {
		return nil, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if p.allowsIP(ip) {
			return []netip.Addr{ip}, nil
		}
		return nil, fmt.Errorf("address %s is %w", ip, ErrNotAllowed)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("host %s is %w and cannot be resolved: %v", host, ErrNotAllowed, err)
	}
	var ok []netip.Addr
	for _, ip := range ips {
		if p.allowsIP(ip) {
			ok = append(ok, ip)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("host %s resolves to %v, %w", host, ips, ErrNotAllowed)
	}
	return ok, nil
}

// CheckURL refuses a URL whose host the policy does not allow.
func (p *Policy) CheckURL(ctx context.Context, u *url.URL) error {
	if p == nil || p.endpoints[endpoint(u)] {
		return nil
	}
	_, err := p.resolve(ctx, u.Hostname())
	return err
}

// dialContext connects only to allowed addresses: a host name is resolved
// here and the connection made to an address checked, so that DNS cannot
// steer a probe (or a redirect) into a refused network after the check.
func (p *Policy) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if p.endpoints[strings.ToLower(addr)] {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if ips == nil {
		return d.DialContext(ctx, network, addr)
	}
	var last error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// ErrRedirect is wrapped by the error of a redirect that was not followed:
// one to a target outside probe.allowed_targets, or one too many.
var ErrRedirect = errors.New("redirect not followed")

// maxRedirects is how many redirects a probe follows; the next one is refused.
const maxRedirects = 10

// guard makes client follow the policy on redirects too, and stop after
// maxRedirects. A redirect that leaves the first request's scheme, host and
// port loses the credential headers: Go drops Authorization on a cross-host
// redirect but forwards the manufacturer's Username and Password. When
// ownAuth, the client's round trippers add credentials of their own to every
// request (http_client_config's basic_auth and the like), which cannot be
// dropped here: such a redirect is refused. A nil policy allows every
// redirect target.
func (p *Policy) guard(client *http.Client, ownAuth bool) {
	next := client.CheckRedirect // set when follow_redirects is false
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if next != nil {
			if err := next(req, via); err != nil {
				return err
			}
		}
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: stopped after %d redirects", ErrRedirect, maxRedirects)
		}
		if err := p.CheckURL(req.Context(), req.URL); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrRedirect, req.URL.Redacted(), err)
		}
		// The credentials go on only while every request so far went to
		// req's origin: after a hop elsewhere, not even the way back gets them.
		for _, r := range via {
			if !sameOrigin(r.URL, req.URL) {
				if ownAuth {
					return fmt.Errorf("%w: %s: http_client_config's credentials would go to another origin", ErrRedirect, req.URL.Redacted())
				}
				for _, k := range []string{"Authorization", "Username", "Password"} {
					req.Header.Del(k)
				}
				break
			}
		}
		return nil
	}
}

// sameOrigin says whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && endpoint(a) == endpoint(b)
}
