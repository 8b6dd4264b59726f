package builder

import (
	"regexp"
	"testing"

	spb "github.com/moby/buildkit/sourcepolicy/pb"
)

// decide applies a policy as BuildKit's engine does to one identifier:
// the last matching rule wins; no match allows.
func decide(p *spb.Policy, id string) spb.PolicyAction {
	act := spb.PolicyAction_ALLOW
	for _, r := range p.Rules {
		if regexp.MustCompile(r.Selector.Identifier).MatchString(id) {
			act = r.Action
		}
	}
	return act
}

func TestProxyPolicy(t *testing.T) {
	p := proxyPolicy([]string{"deb.example", "10.214.3.1:8080", "[fd00::1]:80"})
	for id, want := range map[string]spb.PolicyAction{
		"http://deb.example/dists/x/InRelease":       spb.PolicyAction_ALLOW,
		"https://deb.example:443/pool/a.deb":         spb.PolicyAction_ALLOW,
		"http://deb.example:80/x":                    spb.PolicyAction_ALLOW,
		"https://deb.example:8443/x":                 spb.PolicyAction_DENY,
		"https://deb.example.evil.test/x":            spb.PolicyAction_DENY,
		"https://evil.test/?deb.example/":            spb.PolicyAction_DENY,
		"http://10.214.3.1:8080/input.txt":           spb.PolicyAction_ALLOW,
		"http://10.214.3.1:80/input.txt":             spb.PolicyAction_DENY,
		"http://10.214.3.1:80800/x":                  spb.PolicyAction_DENY,
		"http://[fd00::1]:80/x":                      spb.PolicyAction_ALLOW,
		"docker-image://docker.io/library/busybox:1": spb.PolicyAction_ALLOW,
		"local://context":                            spb.PolicyAction_ALLOW,
	} {
		if got := decide(p, id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
}

func TestLockPolicy(t *testing.T) {
	p := lockPolicy([]string{"10.214.3.1:8080", "10.214.4.1"})
	for id, want := range map[string]spb.PolicyAction{
		"https://deb.debian.org:443/debian/dists/bookworm/InRelease": spb.PolicyAction_ALLOW,
		"http://localhost/x":                          spb.PolicyAction_DENY,
		"http://127.0.0.1:5000/v2/":                   spb.PolicyAction_DENY,
		"http://169.254.169.254/latest/meta-data":     spb.PolicyAction_DENY,
		"http://172.17.0.1/x":                         spb.PolicyAction_DENY,
		"http://172.32.0.1/x":                         spb.PolicyAction_ALLOW,
		"http://192.168.1.1/x":                        spb.PolicyAction_DENY,
		"http://2130706433/x":                         spb.PolicyAction_DENY,
		"http://0x7f000001/x":                         spb.PolicyAction_DENY,
		"http://127.1/x":                              spb.PolicyAction_DENY,
		"http://[::1]/x":                              spb.PolicyAction_DENY,
		"http://10.214.3.1:8080/input.txt":            spb.PolicyAction_ALLOW,
		"http://10.214.3.2:8080/input.txt":            spb.PolicyAction_DENY,
		"http://10.214.4.1:40591/input.txt":           spb.PolicyAction_ALLOW,
		"https://10.214.4.1:443/input.txt":            spb.PolicyAction_ALLOW,
		"http://10.214.4.10/input.txt":                spb.PolicyAction_DENY,
		"docker-image://127.0.0.1:5000/base/busybox@": spb.PolicyAction_ALLOW,
	} {
		if got := decide(p, id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
}

func TestStepLine(t *testing.T) {
	df := "FROM busybox\nRUN wget -q -O /x \\\n  http://a/x\nRUN true\nCOPY . /app\nRUN true\n"
	for name, want := range map[string]int{
		"[2/4] RUN wget -q -O /x   http://a/x": 2,
		"[4/5] COPY . /app":                    5,
		"[3/5] RUN true":                       0, // two lines read so: no guess
		"[1/1] RUN echo other":                 0,
		"":                                     0,
	} {
		if got := stepLine(df, name); got != want {
			t.Errorf("%q: line %d, want %d", name, got, want)
		}
	}
}
