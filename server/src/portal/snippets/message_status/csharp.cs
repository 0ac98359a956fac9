// Follow a message: its status, the phone that sent it, and its timeline.
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class MessageStatus
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request = new HttpRequestMessage(HttpMethod.Get, "{{BASE_URL}}/v1/messages/" + Environment.GetEnvironmentVariable("REQUEST_ID"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await Http.SendAsync(request);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
