// Signs a POST /typing request (Standard Webhooks). Go, standard library only.
package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// SignRequest returns the three headers; id "" and timestamp 0 mean a fresh id and now.
func SignRequest(key string, body []byte, id string, timestamp int64) (map[string]string, error) {
	if id == "" {
		random := make([]byte, 12)
		if _, err := rand.Read(random); err != nil {
			return nil, err
		}
		id = "msg_" + hex.EncodeToString(random)
	}
	if timestamp == 0 {
		timestamp = time.Now().Unix()
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, "whsec_"))
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(timestamp, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": ts,
		"webhook-signature": "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	}, nil
}

// go run sign.go KEY ID TIMESTAMP BODY: prints the three headers as JSON
func main() {
	timestamp, _ := strconv.ParseInt(os.Args[3], 10, 64)
	headers, err := SignRequest(os.Args[1], []byte(os.Args[4]), os.Args[2], timestamp)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(headers)
	fmt.Println(string(out))
}
