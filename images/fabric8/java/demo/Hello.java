// The fabric8/java demo: an HTTP server on HTTP_PORT that says where it runs. Java 11+ runs this
// file directly (`java Hello.java`), so the image needs no build step.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;

public class Hello {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(env("HTTP_PORT", "8080"));
        String bind = env("HTTP_HOST", "0.0.0.0");
        HttpServer server = HttpServer.create(new InetSocketAddress(bind, port), 128);
        server.createContext("/health", exchange -> reply(exchange, 200, "ok\n"));
        server.createContext("/", exchange -> reply(exchange, 200, describe(port)));
        server.setExecutor(Executors.newFixedThreadPool(8));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Hello demo stopping");
            server.stop(0);
        }));
        server.start();
        System.out.println("Hello demo listening on " + bind + ":" + port);
    }

    private static String describe(int port) {
        StringBuilder text = new StringBuilder("Hello from jube!\n");
        text.append("host: ").append(hostName()).append('\n');
        text.append("port: ").append(port).append('\n');
        text.append("app base: ").append(env("APP_BASE", System.getProperty("user.dir"))).append('\n');
        text.append("java: ").append(System.getProperty("java.version")).append('\n');
        text.append("pid: ").append(ProcessHandle.current().pid()).append('\n');
        String backend = env("HELLO_BACKEND", "");
        if (!backend.isEmpty()) {
            text.append("backend ").append(backend).append(": ").append(askBackend(backend)).append('\n');
        }
        Map<String, String> shown = new TreeMap<>();
        for (Map.Entry<String, String> e : System.getenv().entrySet()) {
            String k = e.getKey();
            if (k.endsWith("_PORT") || k.endsWith("_SERVICE_HOST") || k.startsWith("JUBE_") || k.startsWith("KUBERNETES_")) {
                shown.put(k, e.getValue());
            }
        }
        text.append("environment:\n");
        shown.forEach((k, v) -> text.append("  ").append(k).append('=').append(v).append('\n'));
        return text.toString();
    }

    /** The first line the service `name` answers, found through NAME_SERVICE_HOST and _PORT. */
    private static String askBackend(String name) {
        String prefix = name.toUpperCase().replace('-', '_');
        String host = env(prefix + "_SERVICE_HOST", "");
        String port = env(prefix + "_SERVICE_PORT", "");
        if (host.isEmpty() || port.isEmpty()) {
            return "unknown (" + prefix + "_SERVICE_HOST/_PORT are not set)";
        }
        try {
            java.net.URL url = new java.net.URL("http://" + host + ":" + port + "/");
            java.net.HttpURLConnection c = (java.net.HttpURLConnection) url.openConnection();
            c.setConnectTimeout(2000);
            c.setReadTimeout(2000);
            try (java.io.BufferedReader in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
                StringBuilder reply = new StringBuilder();
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("host:") || line.startsWith("port:")) {
                        reply.append(reply.length() == 0 ? "" : ", ").append(line);
                    }
                }
                return "answered from " + host + ":" + port + " (" + reply + ")";
            }
        } catch (IOException e) {
            return "unreachable at " + host + ":" + port + " (" + e.getMessage() + ")";
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    private static void reply(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
