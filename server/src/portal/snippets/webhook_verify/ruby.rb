# Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
# Standard library only; or use the official gem: gem install standardwebhooks.
require "base64"
require "openssl"

def verify_webhook(secret, id, timestamp, signature_header, raw_body)
  return false unless timestamp.match?(/\A\d+\z/) && (Time.now.to_i - timestamp.to_i).abs <= 300

  key = Base64.decode64(secret.delete_prefix("whsec_"))
  expected = Base64.strict_encode64(OpenSSL::HMAC.digest("SHA256", key, "#{id}.#{timestamp}.#{raw_body}"))
  # Two signatures, separated by a space, during a secret rotation.
  signature_header.split(" ").any? do |part|
    version, signature = part.split(",", 2)
    version == "v1" && !signature.nil? && OpenSSL.secure_compare(signature, expected)
  end
end

# In Rails: verify_webhook(secret, request.headers["webhook-id"], request.headers["webhook-timestamp"],
#                          request.headers["webhook-signature"], request.raw_post)
ok = verify_webhook(*%w[WEBHOOK_SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE WEBHOOK_BODY].map { |name| ENV.fetch(name) })
puts ok ? "valid" : "invalid"
exit(ok ? 0 : 1)
