// Package selfupdate is the agent's side of ECS's two-phase agent update (spec §3,
// StageUpdateMessage and PerformUpdateMessage), with the reference agent's answers:
//
//   - StageUpdate downloads the artifact at updateInfo.location (HTTP or HTTPS, at most
//     artifact.MaxSize bytes, 15 minutes), checks that its SHA-256 is updateInfo.signature,
//     that it received as many bytes as the server announced, and that it is an ecsd update
//     artifact for this architecture (artifact.Check), then stages it in the update
//     directory (ECS_UPDATE_DOWNLOAD_DIR) as install.StagedFile: a temporary file, synced,
//     renamed into place. It acknowledges once the artifact is staged and refuses (a
//     NackRequest with the reason) anything else.
//   - PerformUpdate renames the staged artifact to install.ReadyFile, acknowledges, and
//     makes Run return ErrUpdateReady: the agent stops as it does on SIGTERM (tasks keep
//     running, the checkpoint is closed) and exits with install.ExitUpdate (42), after
//     which systemd starts `ecs-init start` again, which installs the update and runs it.
//
// The ACS message carries no size, so the size checked is the one the server announces
// (Content-Length), and the bound. Like the reference agent, the agent does not compare
// versions: ECS decides what to send, and ecs-init installs whatever was staged and
// performed.
package selfupdate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/atomicfile"
	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
)

// ErrUpdateReady is what Run returns once an update was performed: the agent must stop
// and exit with install.ExitUpdate.
var ErrUpdateReady = errors.New("an update is ready to be installed")

// Defaults.
const (
	// DefaultDownloadTimeout bounds one download, the reference agent's.
	DefaultDownloadTimeout = 15 * time.Minute
	// DefaultReplyTimeout bounds how long an answer waits for a connection to go out on.
	DefaultReplyTimeout = time.Minute
)

// The reasons of the reference agent's NackRequests, kept word for word where it has one.
const (
	reasonDisabled   = "Updates are disabled"
	reasonNotStaged  = "Cannot perform update; update not downloaded"
	reasonNewArrived = "New update arrived: "
)

// Options configure an Updater.
type Options struct {
	// Enabled is ECS_UPDATES_ENABLED; when false every update message is refused.
	Enabled bool
	// Dir is ECS_UPDATE_DOWNLOAD_DIR, where updates are downloaded and staged.
	Dir string
	// Arch is the GOARCH an artifact must be built for; default runtime.GOARCH.
	Arch string
	// MaxSize bounds a download; default artifact.MaxSize.
	MaxSize int64
	// DownloadTimeout bounds a download; default DefaultDownloadTimeout.
	DownloadTimeout time.Duration
	// ReplyTimeout bounds an answer's wait for a connection; default DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// HTTPClient downloads; default a client with the environment's proxy settings.
	HTTPClient *http.Client
	Log        logr.Logger
}

type stage int

const (
	idle stage = iota
	downloading
	staged
	performed
)

// reply sends an answer and waits until it is written (acs.Session's).
type reply = func(context.Context, payload.Message) error

// request is a StageUpdate waiting for the download it asked for.
type request struct {
	cluster, instance, id string
	reply                 reply
}

// Updater handles the update messages; it implements acs.Updater. Its methods return at
// once and answer from goroutines.
type Updater struct {
	o   Options
	log logr.Logger

	mu    sync.Mutex
	stage stage
	// sig is the SHA-256 (lower-case hex) of the update downloading or staged.
	sig string
	// waiting are the StageUpdates the download in progress answers; stagedBy is the one
	// that staged the update (answered already), whose update a newer one replaces.
	waiting  []request
	stagedBy request

	performed chan struct{}
	wg        sync.WaitGroup
}

// New returns an Updater. It forgets what an earlier run left in the update directory: a
// partial download, an update staged but never performed (ECS stages again if it still
// wants it), and a ready update that nothing installed (the agent was not started by
// `ecs-init start`), which is logged.
func New(o Options) *Updater {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.MaxSize <= 0 {
		o.MaxSize = artifact.MaxSize
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = DefaultDownloadTimeout
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = DefaultReplyTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	u := &Updater{o: o, log: o.Log, performed: make(chan struct{})}
	u.cleanUp()
	return u
}

func (u *Updater) cleanUp() {
	if u.o.Dir == "" {
		return
	}
	if partial, err := filepath.Glob(filepath.Join(u.o.Dir, ".ecsd-update-*.partial")); err == nil {
		for _, p := range partial {
			_ = os.Remove(p)
		}
	}
	if err := os.Remove(filepath.Join(u.o.Dir, install.StagedFile)); err == nil {
		u.log.Info("forgot an update staged but never performed by the previous run", "dir", u.o.Dir)
	}
	if err := os.Remove(filepath.Join(u.o.Dir, install.ReadyFile)); err == nil {
		u.log.Info("removed an update that was ready but never installed: self-updates take effect only when "+
			"`ecs-init start` runs the agent (as packaging/systemd/ecs.service does)", "dir", u.o.Dir)
	}
	if u.o.Enabled {
		if err := os.MkdirAll(u.o.Dir, 0o700); err != nil {
			u.log.Error(err, "cannot create the update directory; updates will be refused", "dir", u.o.Dir)
		}
	}
}

// Run waits until ctx ends (then for the answers still going out) or an update was
// performed, when it returns ErrUpdateReady.
func (u *Updater) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		u.wg.Wait()
		return nil
	case <-u.performed:
		return ErrUpdateReady
	}
}

// StageUpdate starts downloading the update, or answers at once when it cannot.
func (u *Updater) StageUpdate(ctx context.Context, m *payload.StageUpdateMessage, r reply) {
	if m.MessageID == "" {
		u.log.Info("ignoring a StageUpdate without a messageId")
		return
	}
	req := request{cluster: m.ClusterArn, instance: m.ContainerInstanceArn, id: m.MessageID, reply: r}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.o.Enabled {
		u.nack(ctx, req, reasonDisabled)
		return
	}
	info, err := validate(m.UpdateInfo)
	if err != nil {
		u.nack(ctx, req, "Invalid update: "+err.Error())
		return
	}
	switch {
	case u.stage == performed:
		u.nack(ctx, req, "Cannot stage an update: the agent is restarting into the update it performed")
		return
	case u.stage == downloading && info.Signature == u.sig:
		// The same update again: answered with the first when its download ends.
		u.waiting = append(u.waiting, req)
		return
	case u.stage == downloading:
		u.nack(ctx, req, "Another update is being downloaded; try again when it is staged")
		return
	case u.stage == staged && info.Signature == u.sig:
		u.log.Info("update already staged; acknowledging the duplicate", "messageId", req.id)
		u.ack(ctx, req)
		return
	case u.stage == staged:
		// A newer update replaces the staged one, as in the reference agent.
		u.nack(ctx, u.stagedBy, reasonNewArrived+req.id)
		if err := os.Remove(filepath.Join(u.o.Dir, install.StagedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.log.Info("cannot remove the replaced update", "error", err.Error())
		}
	}
	u.stage, u.sig, u.waiting, u.stagedBy = downloading, info.Signature, []request{req}, request{}
	u.log.Info("downloading an agent update", "messageId", req.id, "location", redact(info.Location), "sha256", info.Signature)
	u.wg.Go(func() {
		dctx, cancel := context.WithTimeout(ctx, u.o.DownloadTimeout)
		err := u.download(dctx, info)
		cancel()
		u.downloaded(ctx, err)
	})
}

// downloaded answers the StageUpdates waiting for the download.
func (u *Updater) downloaded(ctx context.Context, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	waiting := u.waiting
	u.waiting = nil
	if err != nil {
		u.stage, u.sig = idle, ""
		for _, req := range waiting {
			u.nack(ctx, req, err.Error())
		}
		return
	}
	u.stage, u.stagedBy = staged, waiting[0]
	u.log.Info("agent update staged", "sha256", u.sig, "file", filepath.Join(u.o.Dir, install.StagedFile))
	for _, req := range waiting {
		u.ack(ctx, req)
	}
}

// PerformUpdate hands the staged update to ecs-init, acknowledges, and ends Run.
func (u *Updater) PerformUpdate(ctx context.Context, m *payload.PerformUpdateMessage, r reply) {
	req := request{cluster: m.ClusterArn, instance: m.ContainerInstanceArn, id: m.MessageID, reply: r}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case !u.o.Enabled:
		u.nack(ctx, req, reasonDisabled)
		return
	case u.stage == performed:
		u.ack(ctx, req)
		return
	case u.stage == downloading:
		u.nack(ctx, req, reasonNotStaged+" (its download is in progress)")
		return
	case u.stage != staged:
		u.nack(ctx, req, reasonNotStaged)
		return
	case m.UpdateInfo != nil && m.UpdateInfo.Signature != "" && !strings.EqualFold(strings.TrimSpace(m.UpdateInfo.Signature), u.sig):
		u.nack(ctx, req, "Cannot perform update; the staged update ("+u.sig+") is not the one requested")
		return
	}
	staged, ready := filepath.Join(u.o.Dir, install.StagedFile), filepath.Join(u.o.Dir, install.ReadyFile)
	if err := os.Rename(staged, ready); err != nil {
		u.stage, u.sig = idle, ""
		u.nack(ctx, req, "Cannot perform update: "+err.Error())
		return
	}
	if err := atomicfile.SyncDir(u.o.Dir); err != nil {
		u.log.Info("cannot sync the update directory", "error", err.Error())
	}
	u.stage = performed
	u.log.Info("performing the agent update: stopping with exit status 42 for ecs-init to install it; tasks keep running",
		"sha256", u.sig, "file", ready)
	u.wg.Go(func() {
		u.answer(ctx, req, payload.AckRequest{Cluster: req.cluster, ContainerInstance: req.instance, MessageID: req.id})
		close(u.performed)
	})
}

// download fetches the update into a temporary file, checks it, and renames it to
// StagedFile. Its error is the NackRequest's reason.
func (u *Updater) download(ctx context.Context, info payload.UpdateInfo) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.Location, nil)
	if err != nil {
		return fmt.Errorf("Unable to download: %s", redactError(err))
	}
	resp, err := u.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("Unable to download: %s", redactError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Unable to download: HTTP %s", resp.Status)
	}
	if resp.ContentLength > u.o.MaxSize {
		return fmt.Errorf("Unable to download: the update is %d bytes, more than the limit of %d", resp.ContentLength, u.o.MaxSize)
	}
	tmp, err := os.CreateTemp(u.o.Dir, ".ecsd-update-*.partial")
	if err != nil {
		return fmt.Errorf("Unable to stage the update: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, u.o.MaxSize+1))
	switch {
	case err != nil:
		return fmt.Errorf("Unable to download: after %d bytes: %s", n, redactError(err))
	case n > u.o.MaxSize:
		return fmt.Errorf("Unable to download: the update is more than the limit of %d bytes", u.o.MaxSize)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return fmt.Errorf("Unable to download: received %d bytes, the server announced %d", n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != info.Signature {
		return fmt.Errorf("Unable to download: Hashsum validation failed: the download's SHA-256 is %s, the update's signature is %s", got, info.Signature)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("Unable to stage the update: %w", err)
	}
	if err := artifact.Check(tmp, u.o.Arch); err != nil {
		return fmt.Errorf("Invalid update artifact: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("Unable to stage the update: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(u.o.Dir, install.StagedFile)); err != nil {
		return fmt.Errorf("Unable to stage the update: %w", err)
	}
	if err := atomicfile.SyncDir(u.o.Dir); err != nil {
		return fmt.Errorf("Unable to stage the update: %w", err)
	}
	u.log.Info("agent update downloaded and verified", "bytes", n, "sha256", info.Signature)
	return nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks the update's location and signature and returns them normalised (the
// signature trimmed and lower-case).
func validate(info *payload.UpdateInfo) (payload.UpdateInfo, error) {
	switch {
	case info == nil:
		return payload.UpdateInfo{}, errors.New("no update info given")
	case info.Location == "":
		return payload.UpdateInfo{}, errors.New("no location given")
	case info.Signature == "":
		return payload.UpdateInfo{}, errors.New("no signature given")
	}
	out := payload.UpdateInfo{Location: info.Location, Signature: strings.ToLower(strings.TrimSpace(info.Signature))}
	if !hexSHA256.MatchString(out.Signature) {
		return out, errors.New("the signature is not a hex SHA-256")
	}
	loc, err := url.Parse(out.Location)
	if err != nil || (loc.Scheme != "http" && loc.Scheme != "https") || loc.Host == "" {
		return out, errors.New("the location is not an http or https URL")
	}
	return out, nil
}

// redact drops what may be a secret from a URL: the query (an S3 presigned URL's
// signature) and any user information.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return out.String()
}

// redactError is err's text with the URL of a *url.Error redacted.
func redactError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %v", ue.Op, redact(ue.URL), ue.Err)
	}
	return err.Error()
}

// ack and nack answer from a goroutine, so neither the session's read loop nor the lock
// waits for the write.
func (u *Updater) ack(ctx context.Context, req request) {
	u.wg.Go(func() {
		u.answer(ctx, req, payload.AckRequest{Cluster: req.cluster, ContainerInstance: req.instance, MessageID: req.id})
	})
}

func (u *Updater) nack(ctx context.Context, req request, reason string) {
	u.log.Info("refusing an agent update message", "messageId", req.id, "reason", reason)
	u.wg.Go(func() {
		u.answer(ctx, req, payload.NackRequest{Cluster: req.cluster, ContainerInstance: req.instance, MessageID: req.id, Reason: reason})
	})
}

func (u *Updater) answer(ctx context.Context, req request, m payload.Message) {
	rctx, cancel := context.WithTimeout(ctx, u.o.ReplyTimeout)
	defer cancel()
	if err := req.reply(rctx, m); err != nil {
		u.log.Info("cannot answer an agent update message", "type", m.MessageType(), "messageId", req.id, "error", err.Error())
	}
}
