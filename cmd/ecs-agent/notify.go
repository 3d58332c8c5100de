package main

import (
	"net"
	"os"
)

// sdNotify sends state to systemd when the agent runs as a Type=notify unit
// (NOTIFY_SOCKET set); elsewhere it does nothing. The protocol is one datagram on a unix
// socket, so no systemd library is needed.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
