# Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
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

request1 = Net::HTTP::Get.new(URI("{{BASE_URL}}/v1/health"))
puts relay(request1, auth: false).to_json
request2 = Net::HTTP::Get.new(URI("{{BASE_URL}}/v1/readiness"))
puts relay(request2).to_json
