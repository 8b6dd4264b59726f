package service

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/verify"
)

// Config is reprover serve's configuration (docs/service.md). cmd fills
// it from the YAML file, REPROVER_* variables and flags.
type Config struct {
	Listen   string `mapstructure:"listen"`
	Database string `mapstructure:"database"`
	DataDir  string `mapstructure:"dataDir"`
	Workers  int    `mapstructure:"workers"`
	BuildKit struct {
		// Addrs is the pool: "unix://…" or "tcp://…" strings, or objects
		// with the TLS settings of a daemon on another machine.
		Addrs []BuildkitDaemon `mapstructure:"addrs"`
	} `mapstructure:"buildkit"`
	Signing struct {
		Key string `mapstructure:"key"`
	} `mapstructure:"signing"`
	Auth struct {
		Tokens []string `mapstructure:"tokens"`
	} `mapstructure:"auth"`
	PublicReads bool `mapstructure:"publicReads"`
	Sources     struct {
		Allow []string `mapstructure:"allow"`
	} `mapstructure:"sources"`
	// Images.Allow lists reference prefixes allowed even though their host
	// is loopback, private or link-local (refused by default); allowList
	// matches them against references and dialled addresses.
	Images struct {
		Allow []string `mapstructure:"allow"`
	} `mapstructure:"images"`
	// Network is the rebuilds' network: Default when a request names none
	// ("none", or "proxy": RUN downloads through BuildKit's capturing
	// proxy, each checked against a pin), whether proxy may be asked at all,
	// and the loopback, private or link-local hosts downloads may come from
	// (an internal mirror).
	Network struct {
		Default            string   `mapstructure:"default"`
		AllowProxy         bool     `mapstructure:"allowProxy"`
		AllowDownloadHosts []string `mapstructure:"allowDownloadHosts"`
	} `mapstructure:"network"`
	// LayerIndex keeps what reading a layer learnt, by digest, so that the
	// base layers many images share are read once (compare.Index): Dir
	// (default DATADIR/layer-index; "off" for none), MaxBytes (default
	// compare.DefaultIndexBytes).
	LayerIndex struct {
		Dir      string `mapstructure:"dir"`
		MaxBytes int64  `mapstructure:"maxBytes"`
	} `mapstructure:"layerIndex"`
	// Decompressor is how gzip layers are decompressed: auto (igzip for
	// layers of 1 MiB or more when installed, else Go), go or igzip.
	Decompressor string `mapstructure:"decompressor"`
	// Diffoscope: look inside each differing file of a mismatch with
	// Debian's diffoscope (compare.Diffoscope), its text on the pages.
	Diffoscope bool          `mapstructure:"diffoscope"`
	JobTimeout time.Duration `mapstructure:"jobTimeout"`
	// Kits: a verification whose downloads all matched their pins keeps
	// them as the image's kit (docs/kit.md), so every later verification
	// of that image replays it whatever its upstreams do: Keep is "store"
	// (the default: oci-archives in Dir, default DATADIR/kits), "push" (as
	// a referrer of the image, where anyone's verify finds it: needs
	// write access to the registry), "both", or "off".
	Kits struct {
		Keep string `mapstructure:"keep"`
		Dir  string `mapstructure:"dir"`
	} `mapstructure:"kits"`
	// Reverify verifies every known release again each Every (0: never),
	// at most Max of them a round, so the pages show when a release
	// stops verifying and why (its upstream moved, a base is gone).
	Reverify struct {
		Every time.Duration `mapstructure:"every"`
		Max   int           `mapstructure:"max"`
	} `mapstructure:"reverify"`
	// MaxAttempts bounds the runs of a job that fails for transient reasons.
	MaxAttempts int `mapstructure:"maxAttempts"`
	// StaleAfter: a running job whose worker has not been heard from for
	// this long is run again elsewhere (its process died).
	StaleAfter time.Duration `mapstructure:"staleAfter"`
	Hooks      struct {
		Registry []RegistryHook `mapstructure:"registry"`
		Git      []GitHook      `mapstructure:"git"`
	} `mapstructure:"hooks"`
	// Limits bound what one submitter may ask for at once.
	Limits struct {
		// QueuedPerToken bounds the verifications one bearer token (or one
		// git hook, for events signed with its secret) has queued or
		// running; a submission over it is refused with 429 and
		// Retry-After. Default 100; negative: no bound.
		QueuedPerToken int `mapstructure:"queuedPerToken"`
		// RetryAfter is the Retry-After of that 429 (default 1m).
		RetryAfter time.Duration `mapstructure:"retryAfter"`
	} `mapstructure:"limits"`
}

// RegistryHook maps pushes to a repository to verifications. The source and
// commit come from the pushed image's labels
// (org.opencontainers.image.source and .revision) unless Source is set.
type RegistryHook struct {
	// Repository is the repository name in the registry's event ("org/app").
	Repository string `mapstructure:"repository"`
	// Registry is HOST[:PORT] used to name the image (the event's
	// request.host when empty).
	Registry   string `mapstructure:"registry"`
	Source     string `mapstructure:"source"`
	Dockerfile string `mapstructure:"dockerfile"`
	Context    string `mapstructure:"context"`
	// Network is the verifications' network (empty: network.default).
	Network string `mapstructure:"network"`
}

// GitHook maps tag pushes of a repository to verifications of an image.
type GitHook struct {
	// Repository is the event's repository.full_name ("org/app").
	Repository string `mapstructure:"repository"`
	// Source is where to fetch the commit (default: the event's clone_url).
	Source string `mapstructure:"source"`
	// Image is the published image, {tag} replaced by the tag name.
	Image      string `mapstructure:"image"`
	Dockerfile string `mapstructure:"dockerfile"`
	Context    string `mapstructure:"context"`
	// Network is the verifications' network (empty: network.default).
	Network string `mapstructure:"network"`
	// Secret authenticates the forge's events for this repository without
	// the API's token (which GitHub and GitLab cannot send): GitHub's
	// X-Hub-Signature-256 (HMAC-SHA256 of the body with it) or GitLab's
	// X-Gitlab-Token (it, verbatim).
	Secret string `mapstructure:"secret"`
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/reprover"
	}
	if c.Database == "" {
		c.Database = "sqlite://" + filepath.Join(c.DataDir, "reprover.db")
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 30 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 90 * time.Second
	}
	if c.Limits.QueuedPerToken == 0 {
		c.Limits.QueuedPerToken = 100
	}
	if c.Limits.RetryAfter <= 0 {
		c.Limits.RetryAfter = time.Minute
	}
	if c.Reverify.Max <= 0 {
		c.Reverify.Max = 1000
	}
	if c.Kits.Keep == "" {
		c.Kits.Keep = KeepStore
	}
	if c.Kits.Dir == "" {
		c.Kits.Dir = filepath.Join(c.DataDir, "kits")
	}
}

// How the service keeps kits (kits.keep).
const (
	KeepStore = "store"
	KeepPush  = "push"
	KeepBoth  = "both"
	KeepOff   = "off"
)

// Validate reports the first invalid key.
func (c *Config) Validate() error {
	switch {
	case !strings.HasPrefix(c.Database, "sqlite://") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://"):
		return fmt.Errorf("database %q: want sqlite:///PATH or postgres://…", c.Database)
	case len(c.Sources.Allow) == 0:
		return errors.New("sources.allow is empty: no submission could be accepted")
	case c.Reverify.Every < 0 || (c.Reverify.Every > 0 && c.Reverify.Every < time.Minute):
		return fmt.Errorf("reverify.every %v: 0 (never) or at least 1m", c.Reverify.Every)
	case c.Kits.Keep != KeepStore && c.Kits.Keep != KeepPush && c.Kits.Keep != KeepBoth && c.Kits.Keep != KeepOff:
		return fmt.Errorf("kits.keep %q: want %s, %s, %s or %s", c.Kits.Keep, KeepStore, KeepPush, KeepBoth, KeepOff)
	case c.StaleAfter < 20*time.Second:
		return fmt.Errorf("staleAfter %v: at least 20s (workers report every 5s)", c.StaleAfter)
	case c.Decompressor != "" && c.Decompressor != compare.DecompressAuto && c.Decompressor != compare.DecompressGo && c.Decompressor != compare.DecompressIgzip:
		return fmt.Errorf("decompressor %q: want %s, %s or %s", c.Decompressor, compare.DecompressAuto, compare.DecompressGo, compare.DecompressIgzip)
	case c.Network.Default != "" && c.Network.Default != verify.NetworkNone && c.Network.Default != verify.NetworkProxy:
		return fmt.Errorf("network.default %q: want %s or %s", c.Network.Default, verify.NetworkNone, verify.NetworkProxy)
	case c.Network.Default == verify.NetworkProxy && !c.Network.AllowProxy:
		return errors.New("network.default is proxy but network.allowProxy is false")
	}
	for i, a := range c.Sources.Allow {
		if _, err := parseSourceEntry(a); err != nil {
			return fmt.Errorf("sources.allow[%d]: %w", i, err)
		}
	}
	for _, t := range c.Auth.Tokens {
		if len(t) < 8 {
			return errors.New("auth.tokens: every token needs at least 8 characters")
		}
	}
	for i, h := range c.Hooks.Git {
		if h.Secret != "" && len(h.Secret) < 16 {
			return fmt.Errorf("hooks.git[%d].secret: at least 16 characters", i)
		}
	}
	return nil
}

// BuildkitDaemon is one member of the BuildKit pool: a daemon reached over
// mutual TLS names its CA, client certificate and key, and server name
// (as buildctl's --tlscacert, --tlscert, --tlskey, --tlsservername).
type BuildkitDaemon struct {
	Addr       string `mapstructure:"addr"`
	CA         string `mapstructure:"ca"`
	Cert       string `mapstructure:"cert"`
	Key        string `mapstructure:"key"`
	ServerName string `mapstructure:"serverName"`
	// ReplayAddr is host:port where this daemon's proxy reaches the
	// service, to be served a release's kit (docs/kit.md): without it, a
	// kit found by auto is not used, and a hint says so.
	ReplayAddr string `mapstructure:"replayAddr"`
}

// DaemonHook lets a pool member be written as its address alone (the
// string form of buildkit.addrs and of --buildkit-addrs).
func DaemonHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() == reflect.String && to == reflect.TypeOf(BuildkitDaemon{}) {
		return BuildkitDaemon{Addr: data.(string)}, nil
	}
	return data, nil
}

// Daemons is the pool as verify takes it.
func (c *Config) Daemons() []verify.Daemon {
	out := make([]verify.Daemon, 0, len(c.BuildKit.Addrs))
	for _, d := range c.BuildKit.Addrs {
		out = append(out, verify.Daemon{Addr: d.Addr, TLS: verify.TLS{CACert: d.CA, Cert: d.Cert, Key: d.Key, ServerName: d.ServerName}, ReplayAddr: d.ReplayAddr})
	}
	return out
}
