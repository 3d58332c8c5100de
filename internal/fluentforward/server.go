package fluentforward

import (
	"bufio"
	"errors"
	"net"
	"sync"
)

// Serve accepts forward connections on l until it is closed and calls handle with the
// events of every message, from one goroutine per connection; it acknowledges messages
// that ask for it after handle returns. It is a receiver for tests and log routers, not
// a Fluentd: it keeps nothing.
func Serve(l net.Listener, handle func([]Received)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[conn] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
				_ = conn.Close()
			}()
			r := bufio.NewReader(conn)
			for {
				events, chunk, err := ReadMessage(r)
				if err != nil {
					return
				}
				handle(events)
				if chunk != "" {
					if _, err := conn.Write(AppendAck(nil, chunk)); err != nil {
						return
					}
				}
			}
		}()
	}
}
