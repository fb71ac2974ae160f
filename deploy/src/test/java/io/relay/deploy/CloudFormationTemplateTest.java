package io.relay.deploy;

import static io.relay.deploy.CloudFormationTemplate.list;
import static io.relay.deploy.CloudFormationTemplate.map;
import static io.relay.deploy.CloudFormationTemplate.ref;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The users' AWS shape in deploy/aws/relay.cfn.yaml, checked rule by rule (cfn-lint cannot
 * be installed here): private VPC, internal NLB with TCP 25/587, /readyz health checks on
 * the health port, PROXY v2, a deregistration delay equal to the drain timeout, an Auto
 * Scaling group found by Hazelcast through its tag, and security groups that open 25/587
 * only to the application subnets, the cluster port only between relay nodes and the
 * health port only to the VPC.
 */
class CloudFormationTemplateTest {
    private static CloudFormationTemplate t;

    @BeforeAll
    static void read() throws Exception {
        t = CloudFormationTemplate.read(Path.of("aws/relay.cfn.yaml"));
    }

    /** One ingress rule of a security group, wherever the template writes it. */
    record Ingress(String group, String protocol, int from, int to, String cidr, String sourceGroup) {
        boolean covers(int port) {
            return protocol.equals("-1") || (from <= port && port <= to);
        }
    }

    private static List<Ingress> ingressRules() {
        List<Ingress> out = new ArrayList<>();
        for (String id : t.ofType("AWS::EC2::SecurityGroup")) {
            Object rules = t.properties(id).get("SecurityGroupIngress");
            if (rules != null) {
                for (Object r : list(rules)) {
                    out.add(ingress(id, map(r)));
                }
            }
        }
        for (String id : t.ofType("AWS::EC2::SecurityGroupIngress")) {
            Map<String, Object> p = t.properties(id);
            out.add(ingress(ref(p.get("GroupId")), p));
        }
        return out;
    }

    private static Ingress ingress(String group, Map<String, Object> r) {
        String protocol = String.valueOf(t.value(r.get("IpProtocol")));
        int from = protocol.equals("-1") ? 0 : t.intValue(r.get("FromPort"));
        int to = protocol.equals("-1") ? 65535 : t.intValue(r.get("ToPort"));
        Object cidr = r.containsKey("CidrIp") ? t.value(r.get("CidrIp")) : r.get("CidrIpv6");
        return new Ingress(group, protocol, from, to, cidr == null ? null : String.valueOf(cidr),
                ref(r.get("SourceSecurityGroupId")));
    }

    /** The groups on the path to the relay nodes: the instances' own and the load balancer's. */
    private static Set<String> relayPathGroups() {
        Set<String> groups = new HashSet<>();
        Map<String, Object> lt = map(t.properties("RelayLaunchTemplate").get("LaunchTemplateData"));
        list(lt.get("SecurityGroupIds")).forEach(g -> groups.add(ref(g)));
        list(t.properties("LoadBalancer").get("SecurityGroups")).forEach(g -> groups.add(ref(g)));
        return groups;
    }

    private static int port(String parameter) {
        return t.intValue(Map.of("Ref", parameter));
    }

    private static String userData() {
        Map<String, Object> lt = map(t.properties("RelayLaunchTemplate").get("LaunchTemplateData"));
        Object sub = map(lt.get("UserData")).get("Fn::Base64");
        return String.valueOf(list(map(sub).get("Fn::Sub")).get(0));
    }

    @Test
    void vpcHasOnlyPrivateSubnets() {
        assertEquals(1, t.ofType("AWS::EC2::VPC").size());
        List<String> subnets = t.ofType("AWS::EC2::Subnet");
        assertEquals(6, subnets.size(), "three relay and three application subnets");
        for (String s : subnets) {
            assertEquals(false, t.properties(s).get("MapPublicIpOnLaunch"), s + " gives public addresses");
        }
        assertTrue(t.ofType("AWS::EC2::InternetGateway").isEmpty(), "an internet gateway makes subnets public");
        for (String rt : t.ofType("AWS::EC2::Route")) {
            assertFalse("0.0.0.0/0".equals(t.properties(rt).get("DestinationCidrBlock")), rt + " routes to the internet");
        }
    }

    @Test
    void internalNetworkLoadBalancerWithTcpListenersOn25And587() {
        Map<String, Object> lb = t.properties("LoadBalancer");
        assertEquals("network", lb.get("Type"));
        assertEquals("internal", lb.get("Scheme"));
        Set<Integer> ports = new HashSet<>();
        for (String l : t.ofType("AWS::ElasticLoadBalancingV2::Listener")) {
            Map<String, Object> p = t.properties(l);
            assertEquals("LoadBalancer", ref(p.get("LoadBalancerArn")));
            assertEquals("TCP", p.get("Protocol"), l + " must pass TCP through (no TLS termination)");
            ports.add(t.intValue(p.get("Port")));
            String tg = ref(map(list(p.get("DefaultActions")).get(0)).get("TargetGroupArn"));
            assertEquals(t.intValue(p.get("Port")), t.intValue(t.properties(tg).get("Port")),
                    l + " forwards to the target group of its own port");
        }
        assertEquals(Set.of(25, 587), ports);
    }

    @Test
    void targetGroupsCheckReadyzOnTheHealthPortWithProxyV2AndTheDrainAsDeregistrationDelay() {
        List<String> groups = t.ofType("AWS::ElasticLoadBalancingV2::TargetGroup");
        assertEquals(2, groups.size());
        String userData = userData();
        for (String g : groups) {
            Map<String, Object> p = t.properties(g);
            assertEquals("TCP", p.get("Protocol"));
            assertEquals("HTTP", p.get("HealthCheckProtocol"), g);
            assertEquals("/readyz", p.get("HealthCheckPath"), g);
            assertEquals("HealthPort", ref(p.get("HealthCheckPort")), g + " checks the health port");
            assertEquals("200", String.valueOf(map(p.get("Matcher")).get("HttpCode")));
            Map<String, Object> attributes = new java.util.HashMap<>();
            list(p.get("TargetGroupAttributes")).forEach(a -> attributes.put(String.valueOf(map(a).get("Key")),
                    map(a).get("Value")));
            assertEquals("true", attributes.get("proxy_protocol_v2.enabled"), g);
            assertEquals("DrainTimeoutSeconds", ref(attributes.get("deregistration_delay.timeout_seconds")),
                    g + ": the deregistration delay is the drain timeout");
            // the source the node sees is the NLB: trusted for PROXY, and the SGs see the NLB's group
            assertEquals("false", attributes.get("preserve_client_ip.enabled"), g);

            int interval = t.intValue(p.get("HealthCheckIntervalSeconds"));
            int unhealthy = t.intValue(p.get("UnhealthyThresholdCount"));
            int minDelay = t.intValue(map(t.parameters().get("DrainDelaySeconds")).get("MinValue"));
            assertTrue(minDelay > interval * unhealthy, "health.drain-delay (at least " + minDelay
                    + "s) must outlast the NLB's detection, " + interval + "s x " + unhealthy);
        }
        // the nodes are configured with the same numbers
        assertTrue(userData.contains("drain-timeout: ${DrainTimeoutSeconds}s"), "relay.yaml's drain-timeout");
        assertTrue(userData.contains("drain-delay: ${DrainDelaySeconds}s"), "relay.yaml's drain-delay");
        assertTrue(userData.contains("listen: 0.0.0.0:${HealthPort}"), "health.listen on the checked port");
        assertTrue(userData.contains("required: true"), "the nodes require the PROXY header");
        assertTrue(userData.contains("TimeoutStopSec=%s") && userData.contains(
                "$(( ${DrainDelaySeconds} + ${DrainTimeoutSeconds} + 60 ))"), "systemd waits out the whole drain");
    }

    @Test
    void autoScalingGroupOfRelayNodesFoundByTag() {
        Map<String, Object> asg = t.properties("RelayGroup");
        assertEquals(Set.of("RelaySubnet1", "RelaySubnet2", "RelaySubnet3"),
                Set.copyOf(list(asg.get("VPCZoneIdentifier")).stream().map(CloudFormationTemplate::ref).toList()));
        assertEquals(Set.of("SmtpTargetGroup", "SubmissionTargetGroup"),
                Set.copyOf(list(asg.get("TargetGroupARNs")).stream().map(CloudFormationTemplate::ref).toList()));
        assertEquals("ELB", asg.get("HealthCheckType"), "the group replaces nodes the NLB finds unhealthy");
        Map<String, Object> tag = list(asg.get("Tags")).stream().map(CloudFormationTemplate::map)
                .filter(m -> "relay-cluster".equals(m.get("Key"))).findFirst().orElseThrow();
        assertEquals(true, tag.get("PropagateAtLaunch"), "instances carry the tag discovery looks for");
        assertEquals("ClusterTag", ref(tag.get("Value")));
        assertTrue(t.intValue(map(t.parameters().get("NodeCount")).get("MinValue")) >= 3);

        String userData = userData();
        for (String line : List.of("discovery: aws", "tag-key: relay-cluster", "tag-value: ${ClusterTag}",
                "hz-port: \"${ClusterPort}\"", "listen: $ip:${ClusterPort}")) {
            assertTrue(userData.contains(line), "relay.yaml in the user data lacks '" + line + "'");
        }
        assertFalse(java.util.regex.Pattern.compile("(?m)^\\s*members:").matcher(userData).find(),
                "no static members with AWS discovery");
        String policies = String.valueOf(t.properties("RelayRole").get("Policies"));
        assertTrue(policies.contains("ec2:DescribeInstances"), "the discovery needs ec2:DescribeInstances");
        Map<String, Object> lt = map(t.properties("RelayLaunchTemplate").get("LaunchTemplateData"));
        assertEquals("required", map(lt.get("MetadataOptions")).get("HttpTokens"), "IMDSv2 only");
    }

    @Test
    void smtpPortsOpenOnlyToTheApplicationSubnets() throws Exception {
        Set<String> path = relayPathGroups();
        assertEquals(Set.of("RelaySecurityGroup", "LoadBalancerSecurityGroup"), path);
        @SuppressWarnings("unchecked")
        List<String> apps = (List<String>) t.value(Map.of("Ref", "AppSubnetCidrs"));
        int checked = 0;
        for (Ingress r : ingressRules()) {
            if (!path.contains(r.group()) || !(r.covers(25) || r.covers(587))) {
                continue;
            }
            checked++;
            assertFalse(r.protocol().equals("-1"), "all traffic allowed on " + r);
            if (r.sourceGroup() != null) {
                // from the load balancer, whose own group admits only the application subnets
                assertEquals("LoadBalancerSecurityGroup", r.sourceGroup(), "25/587 from another group: " + r);
                assertEquals("RelaySecurityGroup", r.group(), r.toString());
            } else {
                assertNotNull(r.cidr(), r.toString());
                assertTrue(apps.contains(r.cidr()), "25/587 open to " + r.cidr() + ", not an application subnet: " + r);
            }
        }
        assertEquals(8, checked, "6 rules on the NLB (3 app subnets x 2 ports) and 2 on the nodes (from the NLB)");
        // the relay subnets, where the NLB and the nodes live, are not application subnets
        @SuppressWarnings("unchecked")
        List<String> relays = (List<String>) t.value(Map.of("Ref", "RelaySubnetCidrs"));
        for (String a : apps) {
            for (String r : relays) {
                assertFalse(overlap(a, r), a + " overlaps relay subnet " + r);
            }
        }
    }

    @Test
    void clusterPortOnlyBetweenRelayNodesAndHealthPortOnlyFromTheVpc() {
        int cluster = port("ClusterPort");
        int health = port("HealthPort");
        String vpc = String.valueOf(t.value(Map.of("Ref", "VpcCidr")));
        int clusterRules = 0;
        int healthRules = 0;
        for (Ingress r : ingressRules()) {
            if (r.covers(cluster)) {
                clusterRules++;
                assertEquals("RelaySecurityGroup", r.group(), "cluster port open on another group: " + r);
                assertEquals("RelaySecurityGroup", r.sourceGroup(), "cluster port open to more than the nodes: " + r);
            }
            if (r.covers(health) && relayPathGroups().contains(r.group())) {
                healthRules++;
                assertEquals(vpc, r.cidr(), "health port open beyond the VPC: " + r);
            }
            assertFalse("0.0.0.0/0".equals(r.cidr()) || "::/0".equals(r.cidr()), "open to the world: " + r);
        }
        assertEquals(1, clusterRules);
        assertEquals(1, healthRules);
    }

    @Test
    void everyRefPointsToAParameterOrResource() {
        Set<String> names = new HashSet<>(t.parameters().keySet());
        names.addAll(t.resources().keySet());
        names.addAll(List.of("AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::NoValue"));
        List<String> dangling = new ArrayList<>();
        walk(t.root.get("Resources"), dangling, names);
        walk(t.root.get("Outputs"), dangling, names);
        assertTrue(dangling.isEmpty(), "dangling references: " + dangling);
    }

    private static void walk(Object o, List<String> dangling, Set<String> names) {
        if (o instanceof Map<?, ?> m) {
            String r = ref(o);
            if (r != null && !names.contains(r)) {
                dangling.add(r);
            }
            if (m.get("Fn::GetAtt") instanceof List<?> g && !names.contains(String.valueOf(g.get(0)))) {
                dangling.add(String.valueOf(g.get(0)));
            }
            m.values().forEach(v -> walk(v, dangling, names));
        } else if (o instanceof List<?> l) {
            l.forEach(v -> walk(v, dangling, names));
        }
    }

    private static boolean overlap(String a, String b) throws Exception {
        long[] x = range(a);
        long[] y = range(b);
        return x[0] <= y[1] && y[0] <= x[1];
    }

    private static long[] range(String cidr) throws Exception {
        String[] p = cidr.split("/");
        byte[] b = InetAddress.getByName(p[0]).getAddress();
        long ip = ((b[0] & 0xffL) << 24) | ((b[1] & 0xffL) << 16) | ((b[2] & 0xffL) << 8) | (b[3] & 0xffL);
        long size = 1L << (32 - Integer.parseInt(p[1]));
        return new long[] {ip, ip + size - 1};
    }
}
