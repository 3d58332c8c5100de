package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/ecsd/ecsd/internal/fluentforward"
	"github.com/ecsd/ecsd/internal/loggercmd"
	"github.com/ecsd/ecsd/internal/logship"
	"github.com/ecsd/ecsd/internal/logship/fluentd"
	"github.com/ecsd/ecsd/internal/logship/gelf"
	"github.com/ecsd/ecsd/internal/logship/syslog"
)

// shipFlags are the drivers' arguments (see logship.Flag*).
type shipFlags struct {
	driver, tag, containerID, containerName, mode string
	imageID, imageName                            string
	maxBuffer                                     int
	opts                                          map[string]*string
}

func newShipFlags() *shipFlags { return &shipFlags{opts: map[string]*string{}} }

// Register implements loggercmd.Shipper.
func (s *shipFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.driver, logship.FlagDriver, "", "the log driver: fluentd, gelf or syslog")
	fs.StringVar(&s.tag, logship.FlagTag, "", "the tag (expanded)")
	fs.StringVar(&s.containerID, logship.FlagContainerID, "", "the container's ID in records")
	fs.StringVar(&s.containerName, logship.FlagContainerName, "", "the container's name in records")
	fs.StringVar(&s.imageID, logship.FlagImageID, "", "the container's image ID in gelf messages")
	fs.StringVar(&s.imageName, logship.FlagImageName, "", "the container's image in gelf messages")
	fs.StringVar(&s.mode, logship.FlagMode, logship.ModeNonBlocking, "non-blocking or blocking")
	fs.IntVar(&s.maxBuffer, logship.FlagMaxBuffer, logship.DefaultMaxBuffer, "bytes of messages queued")
	for _, d := range logship.Drivers() {
		for _, o := range logship.DriverOptions(d) {
			s.opts[o] = fs.String(logship.Flag(o), "", d+" option "+o)
		}
	}
}

func (s *shipFlags) opt(name string) string {
	if p := s.opts[name]; p != nil {
		return *p
	}
	return ""
}

// New implements loggercmd.Shipper.
func (s *shipFlags) New(errorf func(string, ...any)) (loggercmd.ShipSink, error) {
	if s.driver == "" {
		return nil, nil
	}
	if s.mode != logship.ModeBlocking && s.mode != logship.ModeNonBlocking {
		return nil, fmt.Errorf("%s: --%s %q: want %s or %s", s.driver, logship.FlagMode, s.mode, logship.ModeNonBlocking, logship.ModeBlocking)
	}
	for name, p := range s.opts {
		if *p != "" && !slices.Contains(logship.DriverOptions(s.driver), name) {
			return nil, fmt.Errorf("%s: option %s is not one of the driver's", s.driver, name)
		}
	}
	cfg := logship.Config{Driver: s.driver, Blocking: s.mode == logship.ModeBlocking, MaxBuffer: s.maxBuffer, Errorf: errorf}
	switch s.driver {
	case logship.Fluentd:
		sender, retryWait, err := s.fluentd()
		if err != nil {
			return nil, err
		}
		cfg.Sender = sender
		if cfg.MaxMessages, err = intOpt(s.opt("fluentd-buffer-limit")); err != nil {
			return nil, fmt.Errorf("fluentd-buffer-limit: %w", err)
		}
		if cfg.MaxRetries, err = intOpt(s.opt("fluentd-max-retries")); err != nil {
			return nil, fmt.Errorf("fluentd-max-retries: %w", err)
		}
		if retryWait > 0 {
			cfg.Backoff = logship.DefaultBackoff()
			cfg.Backoff.Min = retryWait
			cfg.Backoff.Max = max(cfg.Backoff.Max, retryWait)
		}
	case logship.Syslog:
		sender, err := s.syslog()
		if err != nil {
			return nil, err
		}
		cfg.Sender = sender
	case logship.GELF:
		sender, err := s.gelf()
		if err != nil {
			return nil, err
		}
		cfg.Sender = sender
		if sender.Addr.Network == "tcp" {
			if cfg.MaxRetries, err = intOpt(s.opt("gelf-tcp-max-reconnect")); err != nil {
				return nil, fmt.Errorf("gelf-tcp-max-reconnect: %w", err)
			}
			if v := s.opt("gelf-tcp-reconnect-delay"); v != "" {
				n, err := intOpt(v)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("gelf-tcp-reconnect-delay %q: want whole seconds", v)
				}
				cfg.Backoff = logship.DefaultBackoff()
				cfg.Backoff.Min = time.Duration(n) * time.Second
				cfg.Backoff.Max = max(cfg.Backoff.Max, cfg.Backoff.Min)
			}
		}
	default:
		return nil, fmt.Errorf("--%s %q: want fluentd, gelf or syslog", logship.FlagDriver, s.driver)
	}
	return logship.New(cfg)
}

func (s *shipFlags) fluentd() (*fluentd.Sender, time.Duration, error) {
	addr, err := fluentforward.ParseAddress(s.opt("fluentd-address"))
	if err != nil {
		return nil, 0, fmt.Errorf("fluentd: %w", err)
	}
	cfg := fluentd.Config{Addr: addr, Tag: s.tag, ContainerID: s.containerID, ContainerName: s.containerName}
	if cfg.SubSecond, err = boolOpt(s.opt("fluentd-sub-second-precision")); err != nil {
		return nil, 0, fmt.Errorf("fluentd-sub-second-precision: %w", err)
	}
	if cfg.RequestAck, err = boolOpt(s.opt("fluentd-request-ack")); err != nil {
		return nil, 0, fmt.Errorf("fluentd-request-ack: %w", err)
	}
	if v := s.opt("fluentd-write-timeout"); v != "" {
		if cfg.WriteTimeout, err = time.ParseDuration(v); err != nil {
			return nil, 0, fmt.Errorf("fluentd-write-timeout: %w", err)
		}
	}
	var retryWait time.Duration
	if v := s.opt("fluentd-retry-wait"); v != "" {
		if retryWait, err = time.ParseDuration(v); err != nil {
			return nil, 0, fmt.Errorf("fluentd-retry-wait: %w", err)
		}
	}
	return fluentd.NewSender(cfg), retryWait, nil
}

func (s *shipFlags) syslog() (*syslog.Sender, error) {
	addr, err := syslog.ParseAddress(s.opt("syslog-address"))
	if err != nil {
		return nil, err
	}
	facility, err := syslog.ParseFacility(s.opt("syslog-facility"))
	if err != nil {
		return nil, err
	}
	format, err := syslog.ParseFormat(s.opt("syslog-format"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &syslog.Sender{Addr: addr, Format: syslog.Formatter{
		Format: format, Facility: facility, Hostname: host, Tag: s.tag, PID: os.Getpid(),
	}}, nil
}

func (s *shipFlags) gelf() (*gelf.Sender, error) {
	addr, err := gelf.ParseAddress(s.opt("gelf-address"))
	if err != nil {
		return nil, err
	}
	typ, level, err := gelf.ParseCompression(addr, s.opt("gelf-compression-type"), s.opt("gelf-compression-level"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &gelf.Sender{Addr: addr, Compression: typ, Level: level, Fields: gelf.Fields{
		Host: host, Tag: s.tag, ContainerID: s.containerID, ContainerName: s.containerName, ImageID: s.imageID, ImageName: s.imageName,
	}}, nil
}

func boolOpt(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	return strconv.ParseBool(v)
}

func intOpt(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want a whole number", v)
	}
	return n, nil
}
