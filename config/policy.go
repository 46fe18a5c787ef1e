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

	"golang.org/x/net/http/httpproxy"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// ProbeConfig restricts what /probe may reach.
type ProbeConfig struct {
	// AllowedTargets lists networks (CIDR), IP addresses and host names that
	// /probe may reach besides the configured targets, which are always
	// allowed (configured target names are accepted here too). Empty: any
	// target (the exporter is then an open relay into whatever network it
	// can reach).
	AllowedTargets []string `yaml:"allowed_targets,omitempty"`
}

// ErrNotAllowed is wrapped by every refusal of the policy.
var ErrNotAllowed = errors.New("not in probe.allowed_targets")

// Policy decides which controllers /probe may reach. A nil Policy allows
// everything.
//
// A configured target is allowed by name and at its host:port, and a host
// name entry by name: for those the address DNS gives when the connection
// is made is trusted. Any other host name is resolved and allowed only
// when an address it resolves to is in an allowed network; the connection
// is then made to that checked address. Proxies are no targets: a module's
// proxy may be dialled by that module's client only.
type Policy struct {
	names     map[string]bool // configured target names
	endpoints map[string]bool // host:port of the configured targets
	hosts     map[string]bool // host names, lower case
	nets      []netip.Prefix
	proxies   map[string]map[string]bool // module → host:port of its proxies
}

// compilePolicy builds the Policy of a validated config; nil when open.
func (c *Config) compilePolicy() (*Policy, error) {
	if len(c.Probe.AllowedTargets) == 0 {
		return nil, nil
	}
	p := &Policy{names: map[string]bool{}, endpoints: map[string]bool{}, hosts: map[string]bool{}, proxies: map[string]map[string]bool{}}
	// The targets of the operator's own file are the operator's.
	for _, t := range c.Targets {
		p.names[t.Name] = true
		rest, modbus, _ := c.Modules[t.Module].ParseTarget(t.Address) // validated
		for _, u := range []*url.URL{rest, modbus} {
			if u != nil {
				p.endpoints[endpoint(u)] = true
			}
		}
	}
	for _, e := range c.Probe.AllowedTargets {
		e = strings.TrimSpace(e)
		if _, ok := c.Target(e); ok {
			continue
		}
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.nets = append(p.nets, pfx.Masked())
			continue
		}
		if e == "" || strings.ContainsAny(e, "/:@ ") && net.ParseIP(e) == nil {
			return nil, fmt.Errorf("probe.allowed_targets: %q is not a target name, network, address or host name", e)
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			p.nets = append(p.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		} else {
			p.hosts[strings.ToLower(e)] = true
		}
	}
	for name, m := range c.Modules {
		if proxies := m.proxyEndpoints(); len(proxies) > 0 {
			p.proxies[name] = proxies
		}
	}
	return p, nil
}

// proxyEndpoints returns the host:port of the proxies the module's client
// connects to: proxy_url, or with proxy_from_environment those of
// HTTP_PROXY and HTTPS_PROXY.
func (m *Module) proxyEndpoints() map[string]bool {
	var urls []string
	if u := m.HTTPClientConfig.ProxyURL.URL; u != nil && u.Hostname() != "" {
		urls = append(urls, u.String())
	}
	if m.HTTPClientConfig.ProxyFromEnvironment {
		env := httpproxy.FromEnvironment()
		urls = append(urls, env.HTTPProxy, env.HTTPSProxy)
	}
	eps := map[string]bool{}
	for _, s := range urls {
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
			eps[endpoint(u)] = true
		}
	}
	return eps
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

// AllowsName says whether the configured target name may be probed: every
// configured target may.
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

// resolver looks host names up; tests replace it.
var resolver = net.DefaultResolver

// howToAllow ends every refusal: what the operator adds to allow it.
const howToAllow = "add it, or a network containing its address, to probe.allowed_targets, or configure the controller under targets"

// resolve returns the addresses of host that the policy allows, nil for
// any address (a host allowed by name), or an error: ErrNotAllowed, or a
// *net.DNSError (without the resolver's address) when the name does not
// resolve. Neither error says what a name resolves to: the answer goes to
// whoever asked for the probe.
func (p *Policy) resolve(ctx context.Context, host string, viaProxy bool) ([]netip.Addr, error) {
	if p == nil || p.hosts[strings.ToLower(host)] {
		return nil, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if p.allowsIP(ip) {
			return []netip.Addr{ip}, nil
		}
		return nil, fmt.Errorf("address %s is %w: %s", ip, ErrNotAllowed, howToAllow)
	}
	switch {
	case viaProxy:
		// The proxy resolves the name itself, to whatever it likes.
		return nil, fmt.Errorf("host %s is %w: the module uses a proxy, which resolves host names itself, so only host names listed in probe.allowed_targets and configured targets are allowed through it", host, ErrNotAllowed)
	case len(p.nets) == 0:
		// Nothing to compare addresses with: no lookup for a caller's name.
		return nil, fmt.Errorf("host %s is %w: add the host name to probe.allowed_targets, or configure the controller under targets", host, ErrNotAllowed)
	}
	ips, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, collector.QuietDNSError(host, err)
	}
	var ok []netip.Addr
	for _, ip := range ips {
		if p.allowsIP(ip) {
			ok = append(ok, ip)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("host %s is %w (no address it resolves to is in an allowed network): %s", host, ErrNotAllowed, howToAllow)
	}
	return ok, nil
}

// CheckURL refuses a URL whose host the policy does not allow, for a probe
// with the module. The error is ErrNotAllowed, or a *net.DNSError for a
// name that does not resolve (which can reach nothing: a failed probe, not
// a refusal).
func (p *Policy) CheckURL(ctx context.Context, u *url.URL, module string) error {
	if p == nil || p.endpoints[endpoint(u)] {
		return nil
	}
	_, err := p.resolve(ctx, u.Hostname(), p.viaProxy(module))
	return err
}

func (p *Policy) viaProxy(module string) bool { return p != nil && len(p.proxies[module]) > 0 }

// dialer returns the module's dial function: it connects only to allowed
// addresses (a host name is resolved here and the connection made to an
// address checked, so that DNS cannot steer a probe or a redirect into a
// refused network after the check), and to the module's own proxies.
func (p *Policy) dialer(module string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	proxies := p.proxies[module]
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		if p.endpoints[strings.ToLower(addr)] || proxies[strings.ToLower(addr)] {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := p.resolve(ctx, host, false)
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
func (p *Policy) guard(client *http.Client, module string, ownAuth bool) {
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
		if err := p.CheckURL(req.Context(), req.URL, module); err != nil {
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
