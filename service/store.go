package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/reprover/reprover/verify"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// Statuses of a verification.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"   // a verdict was reached
	StatusFailed  = "failed" // could not verify (verdict error)
)

// ErrNotFound is returned for an unknown verification id.
var ErrNotFound = errors.New("verification not found")

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
		// WAL and a busy timeout let several writers (workers, the API)
		// share the file; one connection serialises them in-process.
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s := &Store{db: db, sqlitePath: path}
		return s, s.migrate(ctx)
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
		return s, withMigrationLock(ctx, s, func() error { return s.migrate(ctx) })
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

const schema = `CREATE TABLE IF NOT EXISTS reprover_verification (
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
);
CREATE INDEX IF NOT EXISTS reprover_verification_created ON reprover_verification (created_at, id);
CREATE INDEX IF NOT EXISTS reprover_verification_status ON reprover_verification (status, heartbeat_at)`

func (s *Store) migrate(ctx context.Context) error {
	for _, stmt := range strings.Split(schema, ";\n") {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}
	return nil
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

const columns = `id, request, status, verdict, error, report, attestation, generation, attempts, created_at, updated_at, finished_at, heartbeat_at`

func scan(row interface{ Scan(...any) error }) (*Verification, error) {
	var v Verification
	var req string
	var report, att sql.NullString
	var created, updated int64
	var finished, heartbeat sql.NullInt64
	if err := row.Scan(&v.ID, &req, &v.Status, &v.Verdict, &v.Error, &report, &att, &v.Generation, &v.Attempts, &created, &updated, &finished, &heartbeat); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
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
// returns the stored one and whether it was created now.
func (s *Store) Create(ctx context.Context, id string, r Request, now time.Time) (*Verification, bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO reprover_verification (id, request, source, commit_sha, image, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), id, string(b), r.Source, r.Commit, r.Image, StatusQueued, ms(now), ms(now))
	if err != nil {
		return nil, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, err
	}
	v, err := s.Get(ctx, id)
	return v, n == 1, err
}

// Get returns one verification.
func (s *Store) Get(ctx context.Context, id string) (*Verification, error) {
	return scan(s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM reprover_verification WHERE id = ?`), id))
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
			return nil, "", fmt.Errorf("cursor %q: malformed", f.Before)
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

// Claim marks a verification running for a generation; false when it is
// finished or belongs to a newer generation.
func (s *Store) Claim(ctx context.Context, id string, gen int, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET status = ?, attempts = attempts + 1, heartbeat_at = ?, updated_at = ?
		WHERE id = ? AND generation = ? AND status IN (?, ?)`), StatusRunning, ms(now), ms(now), id, gen, StatusQueued, StatusRunning)
	return affected(res, err)
}

// Heartbeat records that the worker of a generation is alive.
func (s *Store) Heartbeat(ctx context.Context, id string, gen int, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET heartbeat_at = ? WHERE id = ? AND generation = ? AND status = ?`),
		ms(now), id, gen, StatusRunning)
	return err
}

// Finish stores the outcome once: only the running generation may.
func (s *Store) Finish(ctx context.Context, id string, gen int, status string, verdict verify.Verdict, errMsg string, report, attestation []byte, now time.Time) (bool, error) {
	var rep, att any
	if report != nil {
		rep = string(report)
	}
	if attestation != nil {
		att = string(attestation)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET status = ?, verdict = ?, error = ?, report = ?, attestation = ?, updated_at = ?, finished_at = ?
		WHERE id = ? AND generation = ? AND status = ?`), status, verdict, errMsg, rep, att, ms(now), ms(now), id, gen, StatusRunning)
	return affected(res, err)
}

// Stale lists running verifications whose worker was last heard of before t.
func (s *Store) Stale(ctx context.Context, before time.Time) ([]*Verification, error) {
	return s.many(ctx, `SELECT `+columns+` FROM reprover_verification WHERE status = ? AND heartbeat_at < ? LIMIT 100`, StatusRunning, ms(before))
}

// Requeue moves a stale verification to a new generation (queued), so that
// its dead worker's generation can no longer finish it.
func (s *Store) Requeue(ctx context.Context, id string, gen int, before, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reprover_verification SET generation = generation + 1, status = ?, updated_at = ?
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
