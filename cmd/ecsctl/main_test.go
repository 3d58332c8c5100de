package main

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// As in main: client-go's klog copies of errors the tests assert on are noise.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
