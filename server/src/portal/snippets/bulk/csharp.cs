// One text to many numbers, filled per recipient: the answer carries the batch_id.
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class Bulk
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request = new HttpRequestMessage(HttpMethod.Post, "{{BASE_URL}}/v1/messages/bulk");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var body = @"{""message"": ""Hi {{name}}, your order {{order}} has shipped."", ""recipients"": [{""to"": ""+923001234567"", ""name"": ""Ali"", ""vars"": {""order"": ""1043""}}, {""to"": ""+923007654321"", ""name"": ""Sara"", ""vars"": {""order"": ""1044""}}]}";
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await Http.SendAsync(request);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
