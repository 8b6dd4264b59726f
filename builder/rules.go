package builder

import (
	"fmt"
	"slices"
	"strings"
)

// Rule is one hermetic-rebuild rule: data with a name, a description and a
// documentation link. docs/rules.md is generated from Rules.
type Rule struct {
	Name        string
	Description string
	// Why is the reason the rule exists, for the docs.
	Why string
	URL string
	// When says when a break of the rule is refused.
	When Severity
}

// Severity is when a rule refuses a Dockerfile.
type Severity int

const (
	// Always refused, before building.
	Always Severity = iota
	// Offline is refused when the rebuild has no network (--network
	// none); with the proxy network every download is captured and must
	// equal a pin instead.
	Offline
	// Warning is never refused: it is reported, and recorded in the
	// build evidence.
	Warning
)

func (s Severity) String() string {
	switch s {
	case Offline:
		return "refused with --network none"
	case Warning:
		return "reported, not refused"
	}
	return "refused"
}

// FormattedRule is a Rule with the typed function that words its violation
// messages, so each message lives beside its rule (as BuildKit's
// linter.LinterRule[F] does).
type FormattedRule[F any] struct {
	Rule
	Format F
}

const rulesDoc = "https://github.com/reprover/reprover/blob/main/docs/rules.md#"

// The rules, in the order docs/rules.md lists them.
var (
	RuleUnpinnedFrom = FormattedRule[func(ref, written string) string]{
		Rule: Rule{Name: "unpinned-from",
			Description: "FROM names an image without a digest",
			Why:         "a tag can be moved after the release; only a digest names the exact base the release was built on",
			URL:         rulesDoc + "unpinned-from"},
		Format: func(ref, written string) string {
			if ref == "" {
				return fmt.Sprintf("FROM %s names no image: give the release's value with --build-arg", written)
			}
			return fmt.Sprintf("FROM %s has no @sha256: digest", ref)
		},
	}
	RuleUnpinnedCopyFrom = FormattedRule[func(ref string, mount bool) string]{
		Rule: Rule{Name: "unpinned-copy-from",
			Description: "COPY --from or RUN --mount from= names an image without a digest",
			Why:         "the copied files come from whatever the tag points to on the day of the rebuild",
			URL:         rulesDoc + "unpinned-copy-from"},
		Format: func(ref string, mount bool) string {
			if mount {
				return fmt.Sprintf("RUN --mount from=%s has no @sha256: digest", ref)
			}
			return fmt.Sprintf("COPY --from=%s has no @sha256: digest", ref)
		},
	}
	RuleAddURLChecksum = FormattedRule[func(url string) string]{
		Rule: Rule{Name: "add-url-without-checksum",
			Description: "ADD of a URL without --checksum",
			Why:         "the server can change what the URL serves; --checksum=sha256:… makes BuildKit refuse other bytes",
			URL:         rulesDoc + "add-url-without-checksum"},
		Format: func(url string) string {
			return fmt.Sprintf("ADD %s has no --checksum=sha256:…", url)
		},
	}
	RuleAddGitUnpinned = FormattedRule[func(src string) string]{
		Rule: Rule{Name: "add-git-unpinned",
			Description: "ADD of a git repository not pinned to a commit",
			Why:         "branches and tags move; a full commit id, 40 or 64 hex digits (as the #ref or --checksum), does not",
			URL:         rulesDoc + "add-git-unpinned"},
		Format: func(src string) string {
			return fmt.Sprintf("ADD %s is not pinned to a commit (use #<full commit id> or --checksum=<commit id>)", src)
		},
	}
	RuleAddPrivateHost = FormattedRule[func(src string, why error) string]{
		Rule: Rule{Name: "add-url-private-host",
			Description: "ADD of a URL or git repository on a host that is, or resolves to, a loopback, link-local or private address",
			Why:         "the rebuild must not make the verifier's BuildKit daemon fetch from its own network (cloud metadata, internal services); a name is judged by the addresses it resolves to on the verifier's machine, as a git source's is",
			URL:         rulesDoc + "add-url-private-host"},
		Format: func(src string, why error) string {
			return fmt.Sprintf("ADD %s: %v: not fetched unless the host is allowed by name", src, why)
		},
	}
	RuleAddUnresolved = FormattedRule[func(word string, names []string) string]{
		Rule: Rule{Name: "add-unresolved-variable",
			Description: "ADD of a source or checksum whose value depends on a variable Check cannot know: one no ARG or ENV of the Dockerfile sets, or one of BuildKit's platform ARGs when no platform is given",
			Why:         "the base image's config may set it, and BuildKit sets TARGETOS, TARGETARCH, … for the platform it builds: what ADD fetches, and against which checksum, cannot be known before the build",
			URL:         rulesDoc + "add-unresolved-variable"},
		Format: func(word string, names []string) string {
			return fmt.Sprintf("ADD %s uses %s, %s: what it fetches cannot be known before the build", word, strings.Join(names, ", "), unknownWhy(names))
		},
	}
	RuleImageUnresolved = FormattedRule[func(word string, names []string) string]{
		Rule: Rule{Name: "image-unresolved-variable",
			Description: "FROM, COPY --from or RUN --mount from= names an image with a variable whose value Check cannot know: one of BuildKit's platform ARGs when no platform is given, or one a base image's config may set",
			Why:         "BuildKit sets TARGETOS, TARGETARCH, … for the platform it builds, without an ARG line: ${TARGETOS:+evil} names another image on every platform than the one judged",
			URL:         rulesDoc + "image-unresolved-variable"},
		Format: func(word string, names []string) string {
			return fmt.Sprintf("%s uses %s, %s: which image it names cannot be known before the build", word, strings.Join(names, ", "), unknownWhy(names))
		},
	}
	RuleUnpinnedSyntax = FormattedRule[func(frontend string) string]{
		Rule: Rule{Name: "unpinned-syntax",
			Description: "# syntax= names a frontend image without a digest",
			Why:         "the frontend decides what the Dockerfile means; an unpinned one can change the build",
			URL:         rulesDoc + "unpinned-syntax"},
		Format: func(frontend string) string {
			return fmt.Sprintf("# syntax=%s has no @sha256: digest", frontend)
		},
	}
	RuleBuildParam = FormattedRule[func(err *ParamError) string]{
		Rule: Rule{Name: "build-parameter",
			Description: "a build argument reprover does not rebuild with: BUILDKIT_SYNTAX without a digest, an unknown BUILDKIT_* argument, a name that is not an ARG name",
			Why:         "reserved build arguments change how BuildKit builds (BUILDKIT_SYNTAX replaces the frontend, like # syntax=); docs/threat-model.md lists every parameter and what a rebuild does with it",
			URL:         rulesDoc + "build-parameter"},
		Format: func(err *ParamError) string {
			return fmt.Sprintf("build arg %s=%q: %s", strings.TrimPrefix(err.Key, buildArgPrefix), err.Value, err.Reason)
		},
	}
	RuleNetworkHost = FormattedRule[func() string]{
		Rule: Rule{Name: "run-network-host",
			Description: "RUN --network=host",
			Why:         "a rebuild's RUN has no network, or only BuildKit's capturing proxy; reprover grants no entitlement, so the host network is never given",
			URL:         rulesDoc + "run-network-host"},
		Format: func() string {
			return "RUN --network=host asks for the host network; a rebuild has none"
		},
	}
	RuleSecurityInsecure = FormattedRule[func() string]{
		Rule: Rule{Name: "run-security-insecure",
			Description: "RUN --security=insecure",
			Why:         "an insecure RUN escapes the sandbox; reprover grants no entitlement",
			URL:         rulesDoc + "run-security-insecure"},
		Format: func() string {
			return "RUN --security=insecure asks to leave the sandbox"
		},
	}
	RuleRunDownloads = FormattedRule[func(tools []string) string]{
		Rule: Rule{Name: "run-downloads",
			Description: "RUN fetches from the network (wget, curl, apt-get, apk, dnf, pip, npm, go mod, git clone, …)",
			Why:         "a rebuild with --network none has no network, so the step would fail; with --network proxy every download is captured and checked against a pin (reprover.lock.json, written by reprover lock, or the release's provenance). Found by a list of known commands: a heuristic",
			URL:         rulesDoc + "run-downloads", When: Offline},
		Format: func(tools []string) string {
			return fmt.Sprintf("RUN downloads (%s), but --network none gives it no network: verify with --network proxy, with pins from reprover.lock.json (reprover lock) or the release's provenance", strings.Join(tools, ", "))
		},
	}
	RuleRunPipeToShell = FormattedRule[func(tools []string) string]{
		Rule: Rule{Name: "run-pipe-to-shell",
			Description: "RUN runs a downloaded script without keeping it (curl … | sh, sh -c \"$(curl …)\")",
			Why:         "the script runs before anyone could read it; pinned or not, what it did is only in the layer it leaves",
			URL:         rulesDoc + "run-pipe-to-shell", When: Warning},
		Format: func(tools []string) string {
			return fmt.Sprintf("RUN pipes what %s fetched into a shell: the script is run unseen", strings.Join(tools, ", "))
		},
	}
)

// Rules lists every rule.
var Rules = []Rule{
	RuleUnpinnedFrom.Rule, RuleUnpinnedCopyFrom.Rule, RuleAddURLChecksum.Rule, RuleAddGitUnpinned.Rule,
	RuleAddPrivateHost.Rule, RuleAddUnresolved.Rule, RuleImageUnresolved.Rule, RuleUnpinnedSyntax.Rule, RuleBuildParam.Rule, RuleNetworkHost.Rule, RuleSecurityInsecure.Rule,
	RuleRunDownloads.Rule, RuleRunPipeToShell.Rule,
}

// unknownWhy says why variables' values are unknown to Check.
func unknownWhy(names []string) string {
	platform := slices.ContainsFunc(names, func(n string) bool {
		return slices.Contains(automaticArgs, n) && (strings.HasPrefix(n, "TARGET") || strings.HasPrefix(n, "BUILD"))
	})
	switch {
	case platform && len(names) == 1:
		return "which BuildKit sets for the platform it builds: give the platforms"
	case platform:
		return "which BuildKit sets for the platform it builds (give the platforms), or the base image may"
	}
	return "which no ARG or ENV of this Dockerfile sets (the base image may)"
}
