# Check the code the person typed: status is "success", "failed" or "expired".
# Standard library only. Needs RELAY_API_KEY in the environment.
require "json"
require "net/http"

def relay(request, auth: true)
  request["Authorization"] = "Bearer #{ENV.fetch("RELAY_API_KEY")}" if auth
  request["Content-Type"] = "application/json"
  uri = request.uri
  response = Net::HTTP.start(uri.hostname, uri.port, use_ssl: uri.scheme == "https") { |http| http.request(request) }
  JSON.parse(response.body) # errors are JSON too: {"ok" => false, "error" => {...}}
end

request = Net::HTTP::Post.new(URI("{{BASE_URL}}/v1/otp/verify"))
request.body = { otp_id: ENV.fetch("OTP_ID"), code: ENV.fetch("OTP_CODE") }.to_json
puts relay(request).to_json
