// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// Standard library only; or use github.com/standard-webhooks/standard-webhooks/libraries/go.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// verifyWebhook reports whether one of the signatures is ours and the timestamp is recent.
func verifyWebhook(secret, id, timestamp, signatureHeader string, rawBody []byte) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if age := time.Now().Unix() - ts; err != nil || age > 300 || age < -300 {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, timestamp)
	mac.Write(rawBody)
	expected := mac.Sum(nil)
	// Two signatures, separated by a space, during a secret rotation.
	for _, part := range strings.Split(signatureHeader, " ") {
		version, signature, found := strings.Cut(part, ",")
		given, err := base64.StdEncoding.DecodeString(signature)
		if found && version == "v1" && err == nil && hmac.Equal(given, expected) {
			return true
		}
	}
	return false
}

func main() {
	// In an http.Handler: verifyWebhook(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
	// r.Header.Get("webhook-signature"), body) with body, _ := io.ReadAll(r.Body).
	ok := verifyWebhook(os.Getenv("WEBHOOK_SECRET"), os.Getenv("WEBHOOK_ID"), os.Getenv("WEBHOOK_TIMESTAMP"),
		os.Getenv("WEBHOOK_SIGNATURE"), []byte(os.Getenv("WEBHOOK_BODY")))
	if !ok {
		fmt.Println("invalid")
		os.Exit(1)
	}
	fmt.Println("valid")
}
