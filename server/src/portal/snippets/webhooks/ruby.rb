# Subscribe an endpoint of yours to events: the answer shows its signing secret once.
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

request = Net::HTTP::Post.new(URI("{{BASE_URL}}/v1/webhooks"))
request.body = {
  url: ENV.fetch("WEBHOOK_URL"),
  events: ["message.delivered", "message.failed"],
}.to_json
puts relay(request).to_json
