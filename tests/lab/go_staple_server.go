// A lab server on Go's crypto/tls that staples a DER OCSP response read
// from a file (tls.Certificate.OCSPStaple), as Go services staple: plain TLS,
// or SMTP that upgrades with STARTTLS first (-smtp). Built by scripts/lab.sh
// with the standard library only (GO111MODULE=off go build).
package main

import (
	"crypto/tls"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"time"
)

// readLine reads one line byte by byte: nothing after it is consumed, so
// the TLS handshake that may follow sees every byte the client sends.
func readLine(c net.Conn) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for b.Len() < 4096 {
		if _, err := c.Read(one); err != nil {
			return "", err
		}
		if one[0] == '\n' {
			return strings.TrimRight(b.String(), "\r"), nil
		}
		b.WriteByte(one[0])
	}
	return "", io.ErrShortBuffer
}

func serve(c net.Conn, cfg *tls.Config, smtp bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if smtp {
		io.WriteString(c, "220 go.lab.test ESMTP\r\n")
		for {
			line, err := readLine(c)
			if err != nil {
				return
			}
			cmd := strings.ToUpper(line)
			switch {
			case strings.HasPrefix(cmd, "EHLO"):
				io.WriteString(c, "250-go.lab.test\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n")
			case cmd == "STARTTLS":
				io.WriteString(c, "220 2.0.0 Ready to start TLS\r\n")
				goto handshake
			case cmd == "QUIT":
				io.WriteString(c, "221 2.0.0 Bye\r\n")
				return
			default:
				io.WriteString(c, "500 5.5.1 Unrecognized command\r\n")
			}
		}
	}
handshake:
	t := tls.Server(c, cfg)
	if err := t.Handshake(); err != nil {
		return
	}
	io.Copy(io.Discard, t)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM private key")
	stapleFile := flag.String("staple", "", "DER OCSP response to staple")
	smtp := flag.Bool("smtp", false, "speak SMTP and upgrade with STARTTLS")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	if cert.OCSPStaple, err = os.ReadFile(*stapleFile); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, cfg, *smtp)
	}
}
