package builder

// Rule is one hermetic-rebuild rule: data with a name, a description and a
// documentation link. docs/rules.md is generated from Rules.
type Rule struct {
	Name        string
	Description string
	// Why is the reason the rule exists, for the docs.
	Why string
	URL string
}

const rulesDoc = "https://github.com/reprover/reprover/blob/main/docs/rules.md#"

// The rules, in the order docs/rules.md lists them.
var (
	RuleUnpinnedFrom = Rule{Name: "unpinned-from",
		Description: "FROM names an image without a digest",
		Why:         "a tag can be moved after the release; only a digest names the exact base the release was built on",
		URL:         rulesDoc + "unpinned-from"}
	RuleUnpinnedCopyFrom = Rule{Name: "unpinned-copy-from",
		Description: "COPY --from or RUN --mount from= names an image without a digest",
		Why:         "the copied files come from whatever the tag points to on the day of the rebuild",
		URL:         rulesDoc + "unpinned-copy-from"}
	RuleAddURLChecksum = Rule{Name: "add-url-without-checksum",
		Description: "ADD of a URL without --checksum",
		Why:         "the server can change what the URL serves; --checksum=sha256:… makes BuildKit refuse other bytes",
		URL:         rulesDoc + "add-url-without-checksum"}
	RuleAddGitUnpinned = Rule{Name: "add-git-unpinned",
		Description: "ADD of a git repository not pinned to a commit",
		Why:         "branches and tags move; a 40-hex commit (as the #ref or --checksum) does not",
		URL:         rulesDoc + "add-git-unpinned"}
	RuleAddPrivateHost = Rule{Name: "add-url-private-host",
		Description: "ADD of a URL on a loopback, link-local or private address",
		Why:         "the rebuild must not make the verifier's BuildKit daemon fetch from its own network (cloud metadata, internal services)",
		URL:         rulesDoc + "add-url-private-host"}
	RuleUnpinnedSyntax = Rule{Name: "unpinned-syntax",
		Description: "# syntax= names a frontend image without a digest",
		Why:         "the frontend decides what the Dockerfile means; an unpinned one can change the build",
		URL:         rulesDoc + "unpinned-syntax"}
	RuleNetworkHost = Rule{Name: "run-network-host",
		Description: "RUN --network=host",
		Why:         "a rebuild has no network; reprover grants no entitlement and runs every RUN with network none",
		URL:         rulesDoc + "run-network-host"}
	RuleSecurityInsecure = Rule{Name: "run-security-insecure",
		Description: "RUN --security=insecure",
		Why:         "an insecure RUN escapes the sandbox; reprover grants no entitlement",
		URL:         rulesDoc + "run-security-insecure"}
)

// Rules lists every rule.
var Rules = []Rule{
	RuleUnpinnedFrom, RuleUnpinnedCopyFrom, RuleAddURLChecksum, RuleAddGitUnpinned,
	RuleAddPrivateHost, RuleUnpinnedSyntax, RuleNetworkHost, RuleSecurityInsecure,
}
