package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/reprover/reprover/verify"
)

// Statuses of a verification.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"   // a verdict was reached
	StatusFailed  = "failed" // could not verify (verdict error)
)

// Verification is one submitted verification and its outcome.
type Verification struct {
	ID          string          `json:"id"`
	Request     Request         `json:"request"`
	Status      string          `json:"status"`
	Verdict     verify.Verdict  `json:"verdict,omitempty"`
	Error       string          `json:"error,omitempty"`
	Report      json.RawMessage `json:"report,omitempty"`
	Attestation []byte          `json:"-"`
	Attempts    int             `json:"attempts"`
	Generation  int             `json:"-"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	FinishedAt  *time.Time      `json:"finishedAt,omitempty"`
	// HeartbeatAt is when the running worker was last heard from.
	HeartbeatAt time.Time `json:"-"`
	// ImageDigest is the digest of the published image a finished
	// verification compared ("" when it read none).
	ImageDigest string `json:"-"`
}

// Store keeps verifications in SQLite (embedded, the default) or
// PostgreSQL (shared by several serve processes).
type Store struct {
	db         *sql.DB
	postgres   bool
	pool       *pgxpool.Pool // PostgreSQL only: River's driver uses it
	sqlitePath string
}

// OpenStore opens (creating and migrating) the database named by dsn:
// sqlite:///PATH or postgres://….
func OpenStore(ctx context.Context, dsn string) (*Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			return nil, errors.New("database sqlite://: no path")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("database %s: %w", dsn, err)
		}
		// SQLite takes an empty file for a new database: a history cut
		// to nothing (a failed copy, a full disk) would start silently
		// empty. reprover creates the file itself when it is missing.
		if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
			return nil, fmt.Errorf("database %s is an empty file (0 bytes), not a reprover database: remove it to start with an empty history, or restore it from a backup", path)
		}
		// WAL and a busy timeout let several writers (workers, the API)
		// share the file; one connection serialises them in-process.
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s := &Store{db: db, sqlitePath: path}
		if err := s.checkIntegrity(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
		if err := s.migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
		return s, nil
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("database: %w", err)
		}
		s := &Store{db: stdlib.OpenDBFromPool(pool), postgres: true, pool: pool}
		if err := s.withMigrationLock(ctx, func() error { return s.migrate(ctx) }); err != nil {
			s.Close()
			return nil, fmt.Errorf("database %s: %w", redactDSN(dsn), err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("database %q: want sqlite:///PATH or postgres://…", dsn)
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// DB is the database/sql handle (SQLite: River's driver uses it too).
func (s *Store) DB() *sql.DB { return s.db }

// migrations bring the schema from one version to the next; the version
// reached is kept in reprover_schema. Version 1 is the table as it was
// before versions were kept (IF NOT EXISTS: such a database is version 0
// and already has it).
var migrations = [][]string{
	{`CREATE TABLE IF NOT EXISTS reprover_verification (
	id TEXT PRIMARY KEY,
	request TEXT NOT NULL,
	source TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	image TEXT NOT NULL,
	status TEXT NOT NULL,
	verdict TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	report TEXT,
	attestation TEXT,
	generation INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	heartbeat_at BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	finished_at BIGINT
)`,
		`CREATE INDEX IF NOT EXISTS reprover_verification_created ON reprover_verification (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS reprover_verification_status ON reprover_verification (status, heartbeat_at)`},
	// 2: the lease of the attempt running a verification (only its holder
	// may report), and who submitted it (limits.queuedPerToken).
	{`ALTER TABLE reprover_verification ADD COLUMN lease TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE reprover_verification ADD COLUMN submitter TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX reprover_verification_submitter ON reprover_verification (submitter, status)`},
	// 3: the digest of the published image a finished verification
	// compared (GET /images/{digest}), and each image's inspect report.
	{`ALTER TABLE reprover_verification ADD COLUMN image_digest TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX reprover_verification_image_digest ON reprover_verification (image_digest, created_at)`,
		`CREATE TABLE reprover_inspection (
	digest TEXT PRIMARY KEY,
	image TEXT NOT NULL,
	report TEXT NOT NULL,
	highest TEXT NOT NULL,
	created_at BIGINT NOT NULL
)`},
}

// SchemaVersion is the version of the store's schema this reprover writes.
var SchemaVersion = len(migrations)

// migrate brings the schema to SchemaVersion, one transaction per step,
// and refuses a database whose schema it does not know: one a newer
// reprover wrote, or whose version table is damaged.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS reprover_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating reprover_schema: %w", err)
	}
	version, err := s.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("schema version %d (reprover_schema) is newer than this reprover's (%d): a newer reprover wrote it; run that one", version, SchemaVersion)
	}
	for v := version + 1; v <= SchemaVersion; v++ {
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range migrations[v-1] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM reprover_schema`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO reprover_schema (version) VALUES (?)`), v)
			return err
		}); err != nil {
			return fmt.Errorf("migrating the schema to version %d: %w", v, err)
		}
	}
	// The version says what the schema should be; a table altered by hand
	// or half restored is found now, not at the first request.
	if _, err := s.db.ExecContext(ctx, `SELECT `+columns+`, lease, submitter FROM reprover_verification WHERE 1 = 0`); err != nil {
		return fmt.Errorf("schema version %d, but reprover_verification does not have its columns: %w", SchemaVersion, err)
	}
	return nil
}

// schemaVersion reads reprover_schema: 0 when it is empty (a new database,
// or one from before versions were kept).
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM reprover_schema`)
	if err != nil {
		return 0, fmt.Errorf("reading reprover_schema: %w", err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("reading reprover_schema: %w", err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading reprover_schema: %w", err)
	}
	switch {
	case len(versions) > 1:
		return 0, fmt.Errorf("reprover_schema holds %d versions %v, want one: the table is damaged", len(versions), versions)
	case len(versions) == 0:
		return 0, nil
	case versions[0] < 1:
		return 0, fmt.Errorf("schema version %d (reprover_schema): not a version reprover writes", versions[0])
	}
	return versions[0], nil
}

// checkIntegrity runs SQLite's PRAGMA quick_check (every page's structure,
// without cross-checking indexes against tables: linear in the file's
// size): a damaged file is refused at start rather than read as if its
// rows were missing.
func (s *Store) checkIntegrity(ctx context.Context) error {
	const advice = "restore it from a backup, or move it aside to start with an empty history"
	rows, err := s.db.QueryContext(ctx, `PRAGMA quick_check(20)`)
	if err != nil {
		// SQLite gives up on some damage before the check can report it.
		return fmt.Errorf("damaged, or not an SQLite database (PRAGMA quick_check: %w): %s", err, advice)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("damaged (PRAGMA quick_check: %w): %s", err, advice)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("damaged (PRAGMA quick_check: %w): %s", err, advice)
	}
	if len(problems) > 0 {
		return fmt.Errorf("damaged (PRAGMA quick_check: %s): %s", strings.Join(problems, "; "), advice)
	}
	return nil
}

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// redactDSN hides a password in a database URL.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// q rewrites ? placeholders as $1, $2… for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

const columns = `id, request, status, verdict, error, report, attestation, generation, attempts, created_at, updated_at, finished_at, heartbeat_at, image_digest`

func scan(row interface{ Scan(...any) error }) (*Verification, error) {
	var v Verification
	var req string
	var report, att sql.NullString
	var created, updated int64
	var finished, heartbeat sql.NullInt64
	if err := row.Scan(&v.ID, &req, &v.Status, &v.Verdict, &v.Error, &report, &att, &v.Generation, &v.Attempts, &created, &updated, &finished, &heartbeat, &v.ImageDigest); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(req), &v.Request); err != nil {
		return nil, fmt.Errorf("verification %s: stored request: %w", v.ID, err)
	}
	if report.Valid {
		v.Report = json.RawMessage(report.String)
	}
	if att.Valid {
		v.Attestation = []byte(att.String)
	}
	v.CreatedAt, v.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if finished.Valid {
		t := time.UnixMilli(finished.Int64).UTC()
		v.FinishedAt = &t
	}
	if heartbeat.Valid {
		v.HeartbeatAt = time.UnixMilli(heartbeat.Int64).UTC()
	}
	return &v, nil
}

// Create stores a new verification unless one with its id exists; it
// returns the stored one and whether it was created now. It does not
// enqueue it (Start and the reaper enqueue what is stored but waiting).
func (s *Store) Create(ctx context.Context, id string, r Request, now time.Time) (*Verification, bool, error) {
	return s.create(ctx, id, r, now, newVerification{})
}

// newVerification is what create needs besides the request.
type newVerification struct {
	// Submitter names who asked (a token's or a hook's id); MaxQueued,
	// when positive, bounds that submitter's verifications waiting or
	// running, the new one included.
	Submitter string
	MaxQueued int
	// Enqueue, when set, inserts the verification's job in the same
	// transaction (tx is a *sql.Tx on SQLite, a pgx.Tx on PostgreSQL):
	// when it fails nothing is stored.
	Enqueue func(ctx context.Context, tx any) error
}

// submitterLockClass is the first key of the PostgreSQL advisory lock
// create takes per submitter (the second is the submitter's hash). Locks
// on two int4 keys never meet withMigrationLock's one bigint key.
const submitterLockClass = 0x72707273 // "rprs"

func (s *Store) create(ctx context.Context, id string, r Request, now time.Time, nv newVerification) (*Verification, bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	insert := s.q(`INSERT INTO reprover_verification (id, request, source, commit_sha, image, status, submitter, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	count := s.q(`SELECT COUNT(*) FROM reprover_verification WHERE submitter = ? AND status IN (?, ?)`)
	args := []any{id, string(b), r.Source, r.Commit, r.Image, StatusQueued, nv.Submitter, ms(now), ms(now)}
	// One transaction: the row, the limit and the job stand or fall
	// together (a failed enqueue used to leave a queued row behind).
	step := func(exec func(q string, args ...any) (int64, error), queryInt func(q string, args ...any) (int, error), tx any) (bool, error) {
		n, err := exec(insert, args...)
		if err != nil || n == 0 {
			return false, err
		}
		if nv.MaxQueued > 0 {
			waiting, err := queryInt(count, nv.Submitter, StatusQueued, StatusRunning)
			if err != nil {
				return false, err
			}
			if waiting > nv.MaxQueued {
				return false, &QueueFullError{Submitter: nv.Submitter, Limit: nv.MaxQueued}
			}
		}
		if nv.Enqueue != nil {
			if err := nv.Enqueue(ctx, tx); err != nil {
				return false, fmt.Errorf("enqueueing %s: %w", id, err)
			}
		}
		return true, nil
	}
	var created bool
	if s.postgres {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, false, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if nv.MaxQueued > 0 {
			// Under READ COMMITTED two submissions of one submitter
			// would each count without the other's uncommitted row and
			// both pass the limit: they take turns on a lock of the
			// submitter's (released with the transaction), so each
			// counts what the one before committed.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, hashtext($2))`, submitterLockClass, nv.Submitter); err != nil {
				return nil, false, fmt.Errorf("locking the queue of %s: %w", nv.Submitter, err)
			}
		}
		created, err = step(func(q string, args ...any) (int64, error) {
			tag, err := tx.Exec(ctx, q, args...)
			return tag.RowsAffected(), err
		}, func(q string, args ...any) (int, error) {
			var n int
			return n, tx.QueryRow(ctx, q, args...).Scan(&n)
		}, tx)
		if err != nil {
			return nil, false, err
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, false, err
		}
	} else {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			created, err = step(func(q string, args ...any) (int64, error) {
				res, err := tx.ExecContext(ctx, q, args...)
				if err != nil {
					return 0, err
				}
				return res.RowsAffected()
			}, func(q string, args ...any) (int, error) {
				var n int
				return n, tx.QueryRowContext(ctx, q, args...).Scan(&n)
			}, tx)
			return err
		})
		if err != nil {
			return nil, false, err
		}
	}
	v, err := s.Get(ctx, id)
	return v, created, err
}

// Get returns one verification; ErrNotFound (wrapped, naming the id) when
// there is none.
func (s *Store) Get(ctx context.Context, id string) (*Verification, error) {
	v, err := scan(s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM reprover_verification WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("verification %s: %w", id, ErrNotFound)
	}
	return v, err
}

// Filter selects verifications to list.
type Filter struct {
	Image, Commit, Verdict, Status string
	Limit                          int
	// Before is the cursor of the previous page: "CREATED_MS:ID".
	Before string
}

// List returns verifications newest first, and the cursor of the next page
// ("" when there is none).
func (s *Store) List(ctx context.Context, f Filter) ([]*Verification, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	where := []string{"1=1"}
	var args []any
	for col, val := range map[string]string{"image": f.Image, "commit_sha": f.Commit, "verdict": f.Verdict, "status": f.Status} {
		if val != "" {
			where = append(where, col+" = ?")
			args = append(args, val)
		}
	}
	if f.Before != "" {
		msStr, id, ok := strings.Cut(f.Before, ":")
		t, err := strconv.ParseInt(msStr, 10, 64)
		if !ok || err != nil {
			return nil, "", &FieldError{"cursor", "malformed (want the next value of a listing)"}
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, t, t, id)
	}
	args = append(args, f.Limit+1)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+columns+` FROM reprover_verification WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*Verification
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = fmt.Sprintf("%d:%s", ms(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

// Attempt is one attempt at one generation of a verification: the lease
// is its own id, which alone may heartbeat, release and finish it.
type Attempt struct {
	ID         string
	Generation int
	Lease      string
}

// Claim marks a verification running for the attempt's generation under
// its lease (an
// id of the claiming attempt, which alone may heartbeat, release and
// finish it). It is refused (false) when the verification is finished,
// belongs to a newer generation, or is running under another attempt
// heard from since staleBefore: River may hand a job out again (its
// rescuer, a retry) while the attempt running it is alive, and one
// verification never runs twice at once.
func (s *Store) Claim(ctx context.Context, a Attempt, now, staleBefore time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET status = ?, attempts = attempts + 1, heartbeat_at = ?, updated_at = ?, lease = ?
		WHERE id = ? AND generation = ? AND (status = ? OR (status = ? AND (heartbeat_at IS NULL OR heartbeat_at < ?)))`),
		StatusRunning, ms(now), ms(now), a.Lease, a.ID, a.Generation, StatusQueued, StatusRunning, ms(staleBefore))
	return affected(res, err)
}

// Heartbeat records that the attempt holding lease is alive; false when
// it no longer holds it (the verification was run again elsewhere).
func (s *Store) Heartbeat(ctx context.Context, a Attempt, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET heartbeat_at = ? WHERE id = ? AND generation = ? AND lease = ? AND status = ?`),
		ms(now), a.ID, a.Generation, a.Lease, StatusRunning)
	return affected(res, err)
}

// Release puts a verification its attempt will not finish back in the
// queue (a transient failure River retries, a shutdown), with why.
func (s *Store) Release(ctx context.Context, a Attempt, why string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET status = ?, error = ?, lease = '', heartbeat_at = NULL, updated_at = ?
		WHERE id = ? AND generation = ? AND lease = ? AND status = ?`), StatusQueued, why, ms(now), a.ID, a.Generation, a.Lease, StatusRunning)
	return affected(res, err)
}

// Outcome is what a finished attempt stores.
type Outcome struct {
	Status      string // StatusDone or StatusFailed
	Verdict     verify.Verdict
	Error       string // why it failed, in the API's words
	Report      []byte // the report's JSON; nil: none
	Attestation []byte // the signed verdict (JSON Lines); nil: none
	// ImageDigest is the digest of the published image compared ("":
	// it was not read).
	ImageDigest string
}

// Finish stores the outcome once: only the attempt holding the lease of
// the running generation may.
func (s *Store) Finish(ctx context.Context, a Attempt, o Outcome, now time.Time) (bool, error) {
	var rep, att any
	if o.Report != nil {
		rep = string(o.Report)
	}
	if o.Attestation != nil {
		att = string(o.Attestation)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET status = ?, verdict = ?, error = ?, report = ?, attestation = ?, image_digest = ?, updated_at = ?, finished_at = ?, lease = ''
		WHERE id = ? AND generation = ? AND lease = ? AND status = ?`), o.Status, o.Verdict, o.Error, rep, att, o.ImageDigest, ms(now), ms(now), a.ID, a.Generation, a.Lease, StatusRunning)
	return affected(res, err)
}

// Stale lists running verifications whose worker was last heard of before t.
func (s *Store) Stale(ctx context.Context, before time.Time) ([]*Verification, error) {
	return s.many(ctx, `SELECT `+columns+` FROM reprover_verification WHERE status = ? AND heartbeat_at < ? LIMIT 100`, StatusRunning, ms(before))
}

// Requeue moves a stale verification to a new generation (queued), so that
// its dead worker's generation can no longer finish it.
func (s *Store) Requeue(ctx context.Context, id string, gen int, before, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET generation = generation + 1, status = ?, lease = '', updated_at = ?
		WHERE id = ? AND generation = ? AND status = ? AND heartbeat_at < ?`), StatusQueued, ms(now), id, gen, StatusRunning, ms(before))
	return affected(res, err)
}

// Queued lists verifications waiting for a worker since before t (to
// enqueue again after a crash between storing and enqueueing).
func (s *Store) Queued(ctx context.Context, before time.Time) ([]*Verification, error) {
	return s.many(ctx, `SELECT `+columns+` FROM reprover_verification WHERE status = ? AND updated_at < ? LIMIT 1000`, StatusQueued, ms(before))
}

// many runs a query that returns verifications.
func (s *Store) many(ctx context.Context, query string, args ...any) ([]*Verification, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Verification
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Counts returns the number of verifications per status.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM reprover_verification GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// withMigrationLock serialises the migrations (the store's, the job
// queue's) of several processes starting on one PostgreSQL database
// (concurrent CREATE … IF NOT EXISTS can fail).
func (s *Store) withMigrationLock(ctx context.Context, f func() error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const key = 0x7265707276 // "reprv"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return f()
}
