package io.relay.node.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One node's admin API over plain HTTP with its bearer token, for the queue calls a
 * durability test makes as an operator would with {@code relayctl queue}: the ids in a
 * state at a next hop ({@code GET /admin/v1/queue/ids}) and a forced retry of a next hop
 * ({@code POST /admin/v1/queue/retry}, Postfix's {@code postqueue -f}). A call that does not
 * answer 200 fails with the node's answer; the timeout is long because a selection over a
 * queue of 100,000 messages is one cluster-wide query.
 */
public final class AdminApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(120);

    private final int port;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public AdminApi(int port, String token) {
        this.port = port;
        this.token = token;
    }

    public int port() {
        return port;
    }

    /** The ids of the cluster's messages in {@code state} (null: any) with a recipient routed to {@code nextHop}. */
    public List<String> ids(String state, String nextHop) throws IOException, InterruptedException {
        StringBuilder q = new StringBuilder("/admin/v1/queue/ids?nexthop=").append(encode(nextHop));
        if (state != null) {
            q.append("&state=").append(encode(state));
        }
        JsonNode answer = call("GET", q.toString(), null);
        List<String> ids = new ArrayList<>();
        answer.get("ids").forEach(id -> ids.add(id.asText()));
        return ids;
    }

    /** Makes every message with a recipient routed to {@code nextHop} due now; answers how many it touched. */
    public long retry(String nextHop) throws IOException, InterruptedException {
        String body = JSON.createObjectNode().put("nexthop", nextHop).toString();
        return call("POST", "/admin/v1/queue/retry", body).get("touched").asLong();
    }

    private JsonNode call(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(CALL_TIMEOUT)
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(method + " " + path + " on admin port " + port + ": " + r.statusCode() + " "
                    + r.body());
        }
        return JSON.readTree(r.body());
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
