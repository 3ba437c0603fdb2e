"""The routing switch: a work item on a routed workstream is picked up after the delay when on, never
when off; work items can be listed by subject prefix, closed and deleted; workstreams carry a channel."""

from __future__ import annotations

import time
import uuid

import requests
from dvsim_support import API, Client

from devtools.dataverse_sim import DataverseSimulator

WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
SELECT = "statuscode,_msdyn_cdsqueueid_value,_msdyn_activeagentid_value"


def create(client: Client, workstream: str, subject: str = "[probe] routing") -> str:
    activityid = str(uuid.uuid4())
    body = {
        "activityid": activityid,
        "subject": subject,
        "msdyn_channel": "192340000",
        WORKSTREAM_BIND: f"/msdyn_liveworkstreams({workstream})",
    }
    assert client.post("msdyn_ocliveworkitems", body).status_code == 204
    return activityid


def read(client: Client, activityid: str) -> dict:
    response = client.get(f"msdyn_ocliveworkitems({activityid})", {"$select": SELECT})
    assert response.status_code == 200
    return response.json()


def test_routing_on_picks_the_item_up_after_the_delay(sim: DataverseSimulator, client: Client) -> None:
    workstream, queue, agent = sim.add_workstream(), sim.add_queue(), sim.add_systemuser()
    sim.route_workstream(workstream, queue, agent)
    sim.set_routing(True, delay=0.3)
    item = create(client, workstream)
    assert read(client, item)["_msdyn_cdsqueueid_value"] is None  # not before the delay
    time.sleep(0.35)
    row = read(client, item)
    assert (row["statuscode"], row["_msdyn_cdsqueueid_value"], row["_msdyn_activeagentid_value"]) == (
        2,
        queue,
        agent,
    )


def test_routing_off_or_unrouted_workstream_leaves_the_item_untouched(
    sim: DataverseSimulator, client: Client
) -> None:
    routed, unrouted, queue = sim.add_workstream(), sim.add_workstream(), sim.add_queue()
    sim.route_workstream(routed, queue)
    sim.set_routing(False, delay=0.0)
    off = create(client, routed)
    sim.set_routing(True, delay=0.0)
    elsewhere = create(client, unrouted)
    sim.set_routing(False)
    time.sleep(0.05)
    for item in (off, elsewhere):
        row = read(client, item)
        assert (row["statuscode"], row["_msdyn_cdsqueueid_value"], row["_msdyn_activeagentid_value"]) == (
            1,
            None,
            None,
        )


def test_list_by_subject_prefix_close_and_delete(sim: DataverseSimulator, client: Client) -> None:
    workstream = sim.add_workstream()
    probe = create(client, workstream, "[bridge go-live probe r1] test")
    create(client, workstream, "A real customer")
    listing = client.get(
        "msdyn_ocliveworkitems",
        {"$filter": "startswith(subject,'[bridge go-live probe')", "$select": "activityid,subject"},
    )
    assert [row["activityid"] for row in listing.json()["value"]] == [probe]
    url = f"{sim.url}{API}msdyn_ocliveworkitems({probe})"
    closed = client.session.patch(url, json={"statecode": 1, "statuscode": 4}, headers=client.headers())
    assert closed.status_code == 204
    assert sim.work_item(probe)["statecode"] == 1
    assert client.session.delete(url, headers=client.headers()).status_code == 204
    assert sim.work_item(probe) is None
    assert client.session.delete(url, headers=client.headers()).status_code == 404
    assert len(sim.work_items) == 1


def test_other_filters_and_patches_are_refused(sim: DataverseSimulator, client: Client) -> None:
    item = create(client, sim.add_workstream())
    assert client.get("msdyn_ocliveworkitems", {"$filter": "subject eq 'x'"}).status_code == 400
    url = f"{sim.url}{API}msdyn_ocliveworkitems({item})"
    response = requests.patch(url, json={"subject": "changed"}, headers=client.headers(), timeout=5)
    assert response.status_code == 400


def test_workstream_streamsource_and_admin_api(sim: DataverseSimulator, client: Client) -> None:
    workstream, queue = sim.add_workstream(), sim.add_queue()
    select = {"$select": "msdyn_name,msdyn_streamsource"}
    assert client.get(f"msdyn_liveworkstreams({workstream})", select).json()["msdyn_streamsource"] is None
    answer = requests.post(
        f"{sim.url}/_sim/routing",
        json={
            "enabled": True,
            "delay": 0,
            "workstreams": {workstream: {"queue_id": queue}},
            "streamsource": {workstream: 192340000},
        },
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["enabled"] is True
    assert (
        client.get(f"msdyn_liveworkstreams({workstream})", select).json()["msdyn_streamsource"] == 192340000
    )
    item = create(client, workstream)
    row = read(client, item)
    assert (row["statuscode"], row["_msdyn_cdsqueueid_value"]) == (1, queue)  # a queue, no rep yet
    sim.reset()
    assert sim.routing["enabled"] is False
