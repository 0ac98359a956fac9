// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// .NET or Mono, no packages; or use the official NuGet package StandardWebhooks.
using System;
using System.Security.Cryptography;
using System.Text;

class VerifyWebhook
{
    public static bool Verify(string secret, string id, string timestamp, string signatureHeader, string rawBody)
    {
        long ts;
        if (!long.TryParse(timestamp, out ts) || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ts) > 300)
            return false;
        var key = Convert.FromBase64String(secret.StartsWith("whsec_") ? secret.Substring(6) : secret);
        byte[] expected;
        using (var hmac = new HMACSHA256(key))
            expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(id + "." + timestamp + "." + rawBody));
        // Two signatures, separated by a space, during a secret rotation.
        foreach (var part in signatureHeader.Split(' '))
        {
            var pieces = part.Split(new[] { ',' }, 2);
            if (pieces.Length == 2 && pieces[0] == "v1" && FixedTimeEquals(pieces[1], Convert.ToBase64String(expected)))
                return true;
        }
        return false;
    }

    // CryptographicOperations.FixedTimeEquals on .NET Core 2.1+; written out for .NET Framework and Mono.
    static bool FixedTimeEquals(string a, string b)
    {
        if (a.Length != b.Length) return false;
        var diff = 0;
        for (var i = 0; i < a.Length; i++) diff |= a[i] ^ b[i];
        return diff == 0;
    }

    static int Main()
    {
        // In ASP.NET: Request.Headers["webhook-id"], …, and the raw body read as a string.
        Func<string, string> env = name => Environment.GetEnvironmentVariable(name) ?? "";
        var ok = Verify(env("WEBHOOK_SECRET"), env("WEBHOOK_ID"), env("WEBHOOK_TIMESTAMP"), env("WEBHOOK_SIGNATURE"), env("WEBHOOK_BODY"));
        Console.WriteLine(ok ? "valid" : "invalid");
        return ok ? 0 : 1;
    }
}
