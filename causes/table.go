package causes

import "fmt"

// Cause is one reason two builds of a file differ.
type Cause struct {
	ID    string
	Title string
	// Why says how the cause arises, for the docs.
	Why string
	// Fix is the usual fix, in a sentence or two.
	Fix string
}

// URL is the cause's section of docs/causes.md.
func (c Cause) URL() string { return docs + c.ID }

const docs = "https://github.com/reprover/reprover/blob/main/docs/causes.md#"

// The causes, most specific first, as docs/causes.md lists them.
// PackageChanged is found by compare from the images' package databases
// (package pkgdb), over whatever Classify found. Classify does not try the
// others in this order: a file only in one image is judged by
// its path alone; otherwise metadata-only first, then the evidence in the
// contents (Python bytecode, gzip headers, archive members), then the
// known paths, then times, ids and order in the contents; unknown last.
var (
	PackageChanged = Cause{ID: "package-changed", Title: "a package changed",
		Why: "the file belongs to a package (deb, apk, Python, npm) whose version differs between the two images, or that only one of them has: the package repository moved on between the release and the rebuild (or between two releases), and the file changed with it; the package databases' own files (dpkg's status and info files, apk's installed, a dist-info, a package.json) change with it too. Found from both images' package databases, not from the file's content",
		Fix: "pin package versions (`apt-get install jq=1.6-2.1+deb12u3`, a snapshot mirror such as snapshot.debian.org, `apk add jq=1.6-r3`, a pip or npm lock file with hashes), keep a kit of the release's downloads, or verify soon after the release, before the repositories move"}
	PythonBytecode = Cause{ID: "python-bytecode", Title: "Python bytecode",
		Why: "a .pyc file records the modification time and size of its source in its header (PEP 552), and marshal's reference flags may vary between runs",
		Fix: "compile with `python -m compileall --invalidation-mode checked-hash` (or set SOURCE_DATE_EPOCH in the compiling RUN, which makes py_compile use checked hashes), or do not ship .pyc files (PYTHONDONTWRITEBYTECODE=1)"}
	GzipHeader = Cause{ID: "gzip-header", Title: "gzip header (time or name)",
		Why: "gzip writes the input's modification time and name into its header; the compressed data may be the same",
		Fix: "compress with `gzip -n` (no name, no time), or `gzip.GzipFile(mtime=0)` in Python, `tar … | gzip -n` for tarballs"}
	ArchiveTimes = Cause{ID: "archive-times", Title: "member times inside an archive",
		Why: "zip, jar, wheel and tar archives record each member's modification time; members made during the build carry the build's time",
		Fix: "set member times before archiving: `tar --sort=name --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime --owner=0 --group=0 --numeric-owner`; for zip, `touch -d @$SOURCE_DATE_EPOCH` the files and `zip -X`; or run strip-nondeterminism on the result"}
	PackageManagerFiles = Cause{ID: "package-manager-files", Title: "package manager logs and caches",
		Why: "apt, dpkg, ldconfig, pip, npm and others leave logs with the build's time, and caches whose bytes depend on the build's time or order",
		Fix: "remove them in the RUN that makes them: `rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache`, `pip install --no-cache-dir`, `npm cache clean --force`"}
	RandomID = Cause{ID: "random-id", Title: "random identifiers or keys",
		Why: "a machine id, a UUID, a host key or a certificate made at build time is new on every build",
		Fix: "do not generate identifiers or keys at build time: empty /etc/machine-id (`: > /etc/machine-id`), remove generated host keys and snakeoil certificates and make them at first start"}
	Timestamp = Cause{ID: "timestamp", Title: "a timestamp inside the content",
		Why: "the build wrote the time it ran (`date`, a build stamp, a log line) into the file",
		Fix: "derive the time from SOURCE_DATE_EPOCH (declare `ARG SOURCE_DATE_EPOCH` in the stage; BuildKit sets it), e.g. `date -u -d @$SOURCE_DATE_EPOCH`, or leave the time out"}
	ContextTimes = Cause{ID: "context-times", Title: "file times of the build context",
		Why: "a RUN printed or acted on file times (`ls -l`, `make` deciding what is out of date): the context's files carry the checkout's times, which differ between the release's checkout and the rebuild's",
		Fix: "do not let file times reach the output: list names only, set times before use (`find . -exec touch -d @$SOURCE_DATE_EPOCH {} +`), or make `make` rebuild everything (`make -B`)"}
	Order = Cause{ID: "order", Title: "the same content in another order",
		Why: "lines or archive members come from a directory listing, a hash map or parallel work, whose order is not stable",
		Fix: "sort what the build enumerates: `LC_ALL=C sort`, `tar --sort=name`, sorted globs, sorted map keys"}
	MetadataOnly = Cause{ID: "metadata-only", Title: "metadata only, the content identical",
		Why: "the content is the same; the file's mode, owner, modification time, xattrs or type differ",
		Fix: "build with SOURCE_DATE_EPOCH and `rewrite-timestamp=true` for times; set modes and owners explicitly (`COPY --chmod`, `--chown`); the file's aspects say which"}
	Unknown = Cause{ID: "unknown", Title: "no known cause",
		Why: "nothing in the table explains the difference",
		Fix: "read the text diff, run `reprover verify --diffoscope` to look inside the file, and `reprover twice` to learn whether the build varies from run to run"}
)

// Table is every cause, most specific first (docs/causes.md's order).
var Table = []Cause{PackageChanged, PythonBytecode, GzipHeader, ArchiveTimes, PackageManagerFiles, RandomID, Timestamp, ContextTimes, Order, MetadataOnly, Unknown}

// ByID returns the cause with id.
func ByID(id string) (Cause, error) {
	for _, c := range Table {
		if c.ID == id {
			return c, nil
		}
	}
	return Cause{}, fmt.Errorf("no cause %q", id)
}
