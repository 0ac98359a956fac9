// Search the directory by name or by (part of) a number.
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class RecipientsSearch
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request = new HttpRequestMessage(HttpMethod.Get, "{{BASE_URL}}/v1/recipients?q=Ali");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await Http.SendAsync(request);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
