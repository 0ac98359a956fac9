# One text to many numbers, filled per recipient: the answer carries the batch_id.
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

request = Net::HTTP::Post.new(URI("{{BASE_URL}}/v1/messages/bulk"))
request.body = {
  message: "Hi {{name}}, your order {{order}} has shipped.",
  recipients: [
    { to: "+923001234567", name: "Ali", vars: { order: "1043" } },
    { to: "+923007654321", name: "Sara", vars: { order: "1044" } },
  ],
}.to_json
puts relay(request).to_json
