package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ecsd/ecsd/internal/atomicfile"
)

// registrationFile is the copy of the registration kept outside the checkpoint, in the data
// directory. When a damaged checkpoint is moved aside, the agent re-registers with the
// container instance ARN it finds here instead of becoming a new instance, so ECS keeps the
// tasks it placed here, and the containers adopted from containerd report to the same
// instance. To make an installation register as a new instance, remove it with ecsd.db.
const registrationFile = "registration.json"

// maxRegistrationSize bounds the file read back: it holds a handful of short strings.
const maxRegistrationSize = 64 << 10

// savedRegistration is the content of registrationFile.
type savedRegistration struct {
	ContainerInstanceARN string    `json:"containerInstanceArn"`
	Cluster              string    `json:"cluster"`
	EC2InstanceID        string    `json:"ec2InstanceId,omitempty"`
	AvailabilityZone     string    `json:"availabilityZone,omitempty"`
	AgentVersion         string    `json:"agentVersion,omitempty"`
	RegisteredAt         time.Time `json:"registeredAt"`
}

// saveRegistration writes the registration to dir atomically (a synced temporary file
// renamed over the old one, then the directory synced), readable by root only.
func saveRegistration(dir string, r savedRegistration) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", registrationFile, err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(filepath.Join(dir, registrationFile), data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", registrationFile, err)
	}
	return nil
}

// loadRegistration reads the registration saved in dir. A missing file is (nil, nil); a
// file that cannot be used is an error saying why (the caller registers anew).
func loadRegistration(dir string) (*savedRegistration, error) {
	f, err := os.Open(filepath.Join(dir, registrationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRegistrationSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", registrationFile, err)
	}
	if len(data) > maxRegistrationSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", registrationFile, maxRegistrationSize)
	}
	var r savedRegistration
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", registrationFile, err)
	}
	if r.ContainerInstanceARN == "" || r.Cluster == "" {
		return nil, fmt.Errorf("%s names no container instance ARN or cluster", registrationFile)
	}
	return &r, nil
}
