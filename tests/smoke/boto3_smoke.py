"""boto3 against a running Photon: the client botocore users have (AWS JSON 1.1).

Run by .ci/run with AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE pointing at the files Photon
writes on first start; the profile `photon` carries the endpoint, so nothing here names it.
Prints 'N passed, 0 failed' and exits non-zero on the first failure.
"""
import sys

import boto3
from botocore.exceptions import ClientError

passed = 0


def check(cond, what):
    global passed
    if not cond:
        print(f"FAILED: {what}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


session = boto3.Session(profile_name="photon")
for region in ("us-east-1", "eu-central-1"):
    c = session.client("appstream", region_name=region)
    pages = list(c.get_paginator("describe_images").paginate(Type="PUBLIC", PaginationConfig={"PageSize": 10}))
    images = [i for p in pages for i in p["Images"]]
    check(len(pages) > 1, f"{region}: paginated in several pages")
    check(len(images) >= 40, f"{region}: public catalogue listed ({len(images)})")
    check(all(i["Visibility"] == "PUBLIC" for i in images), "all public")
    check(all(i["Arn"] == f"arn:aws:appstream:{region}::image/{i['Name']}" for i in images), "public ARNs have no account")
    check(len({i["Name"] for i in images}) == len(images), "no image twice")
    check(hasattr(images[0]["CreatedTime"], "year"), "timestamps parse as datetimes")
    check(pages[0]["ResponseMetadata"]["RequestId"], "request id returned")

c = session.client("appstream", region_name="us-east-1")
code, msg, status = error_of(c.describe_images, Names=["does-not-exist"])
check((code, status) == ("ResourceNotFoundException", 404), f"not found: {code} {status}")
check("does-not-exist" in msg, "message names the image")
code, _, _ = error_of(c.describe_images, Names=["a"], Arns=["arn:aws:appstream:us-east-1::image/a"])
check(code == "InvalidParameterCombinationException", f"names+arns: {code}")
name = c.describe_images(Type="PUBLIC", MaxResults=1)["Images"][0]["Name"]
code, _, _ = error_of(c.delete_image, Name=name)
check(code == "OperationNotPermittedException", f"delete public: {code}")
code, msg, _ = error_of(c.describe_images, NextToken="forged.token")
check(code == "ValidationException" and "NextToken" in msg, f"forged token: {code}")
code, msg, status = error_of(c.describe_directory_configs)
check((code, status) == ("NotImplemented", 501) and "DescribeDirectoryConfigs" in msg, f"unimplemented: {code}")
# Sharing and copying: the camelCase members of ImagePermissions and the model's errors.
code, msg, _ = error_of(c.update_image_permissions, Name=name, SharedAccountId="123456789012",
                        ImagePermissions={"allowFleet": True, "allowImageBuilder": False})
check(code == "ResourceNotFoundException" and "public" in msg, f"share public: {code} {msg}")
code, _, _ = error_of(c.update_image_permissions, Name="mine", SharedAccountId="12345",
                      ImagePermissions={"allowFleet": True})
check(code == "ValidationException", f"short account id: {code}")
code, _, _ = error_of(c.describe_image_permissions, Name="no-such-image")
check(code == "ResourceNotFoundException", f"permissions of a missing image: {code}")
code, msg, _ = error_of(c.copy_image, SourceImageName=name, DestinationImageName="x", DestinationRegion="eu-west-1")
check(code == "IncompatibleImageException", f"copy public: {code}")
code, msg, _ = error_of(c.copy_image, SourceImageName="x", DestinationImageName="x", DestinationRegion="xx-nowhere-1")
check(code == "ResourceNotFoundException" and "eu-west-1" in msg, f"copy to nowhere: {code} {msg}")
bad = boto3.Session(aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x" * 40)
endpoint = c.meta.endpoint_url
code, _, _ = error_of(bad.client("appstream", region_name="us-east-1", endpoint_url=endpoint).describe_images)
check(code == "UnrecognizedClientException", f"unknown key: {code}")

print(f"{passed} passed, 0 failed")
